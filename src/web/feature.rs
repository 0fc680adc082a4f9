//! The features that need scopes of their own, for incremental and granular authorization:
//! each feature's scope is asked for when the feature is first used
//! (`/oauth2callback?grant=gmail`, with `include_granted_scopes=true`), and a feature whose
//! scope the user just declined is remembered in the session, so its page explains instead of
//! asking again (the pages themselves: `handlers::grant`).

use actix_session::Session;

use crate::google::{drive, gmail};

/// A feature that needs a scope of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Drive,
    Gmail,
}

/// Session key of the features whose scope the user just declined on the consent screen.
const DECLINED_KEY: &str = "declined";

impl Feature {
    pub const ALL: [Feature; 2] = [Feature::Drive, Feature::Gmail];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Drive => "drive",
            Self::Gmail => "gmail",
        }
    }

    /// The feature's name as people say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Drive => "Drive",
            Self::Gmail => "Gmail",
        }
    }

    /// Scopes any of which lets the feature work.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Self::Drive => drive::SCOPES,
            Self::Gmail => gmail::SCOPES,
        }
    }

    /// The one scope asked for when the feature is first used.
    pub fn request_scope(self) -> &'static str {
        match self {
            Self::Drive => "https://www.googleapis.com/auth/drive.metadata.readonly",
            Self::Gmail => gmail::READONLY,
        }
    }

    /// Where the feature lives: where the user returns after granting it.
    pub fn path(self) -> &'static str {
        match self {
            Self::Drive => "/",
            Self::Gmail => "/gmail",
        }
    }

    /// What the feature does, for the account page.
    pub fn enables(self) -> &'static str {
        match self {
            Self::Drive => "the Drive files page and background sync of your file list",
            Self::Gmail => "the Gmail page and background sync of your message count",
        }
    }

    /// Whether any of `granted` lets the feature work.
    pub fn granted_by<'a>(self, mut granted: impl Iterator<Item = &'a str>) -> bool {
        granted.any(|s| self.scopes().contains(&s))
    }

    /// The link that asks for this feature's scope.
    pub fn grant_link(self) -> String {
        format!("/oauth2callback?grant={}", self.as_str())
    }
}

/// Records that the user did not grant `feature`'s scope just now.
pub fn remember_declined(
    session: &Session,
    feature: Feature,
) -> Result<(), actix_session::SessionInsertError> {
    session.insert(DECLINED_KEY, feature.as_str())
}

/// Whether the user just declined `feature` (so the page explains instead of asking again).
pub fn declined(session: &Session, feature: Feature) -> bool {
    session
        .get::<String>(DECLINED_KEY)
        .ok()
        .flatten()
        .is_some_and(|f| f == feature.as_str())
}
