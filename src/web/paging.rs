//! Page-by-page navigation through a Google list API (Drive, Gmail) with the page tokens in
//! the page's own links, so a page view keeps nothing in the session and writes nothing.
//!
//! A link names the page number, that page's token and, for Previous, the tokens of up to
//! [`HISTORY`] pages before it (most recent first, comma separated): `/?page=3&page_token=B&
//! back=A`. Page 1 has no token. Further back than the history reaches, the page offers "First
//! page" instead of Previous. Every value is checked: a tampered link is a 400 page.

use url::form_urlencoded;

use super::errors::AppError;
use crate::google::PageToken;

/// How many earlier pages a link remembers for Previous.
pub const HISTORY: usize = 10;
/// The highest page number a link may name.
const MAX_PAGE: u32 = 100_000;

const BAD_LINK: &str =
    "This page link is not valid (it may have been cut short or changed). Start again from the first page.";

/// Where in a list a page view is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// 1-based.
    pub page: u32,
    /// The token of this page (`None` on page 1).
    pub token: Option<PageToken>,
    /// Tokens of the pages before this one, most recent first; page 1 is never listed.
    back: Vec<PageToken>,
}

/// What a query string asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Requested {
    Page(Cursor),
    /// A page past the first with no token (an old bookmark): start from the first page.
    Restart,
}

impl Cursor {
    pub fn first() -> Self {
        Self {
            page: 1,
            token: None,
            back: vec![],
        }
    }

    /// Reads `page`, `page_token` and `back` from a query string (other keys are ignored).
    pub fn from_query(query: &str) -> Result<Requested, AppError> {
        let bad = || AppError::BadRequest(BAD_LINK);
        let (mut page, mut token, mut back) = (None, None, None);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "page" => &mut page,
                "page_token" => &mut token,
                "back" => &mut back,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(bad());
            }
        }
        let page = match page {
            None => 1,
            Some(p) => p
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=MAX_PAGE).contains(p))
                .ok_or_else(bad)?,
        };
        let token = token
            .map(|t| PageToken::parse(&t).ok_or_else(bad))
            .transpose()?;
        let back: Vec<PageToken> = match back {
            None => vec![],
            Some(b) => b
                .split(',')
                .map(|t| PageToken::parse(t).ok_or_else(bad))
                .collect::<Result<_, _>>()?,
        };
        match (page, token) {
            (1, None) if back.is_empty() => Ok(Requested::Page(Self::first())),
            (1, _) => Err(bad()),
            (_, None) => Ok(Requested::Restart),
            (page, Some(token)) => {
                if back.len() > HISTORY.min(page as usize - 2) {
                    return Err(bad());
                }
                Ok(Requested::Page(Self {
                    page,
                    token: Some(token),
                    back,
                }))
            }
        }
    }

    /// The link to the page after this one, whose token is `next`; `keep` are the list's own
    /// parameters (e.g. a search), carried along.
    pub fn next_link(&self, path: &str, keep: &[(&str, &str)], next: &PageToken) -> String {
        let mut back: Vec<&PageToken> = self.token.iter().chain(&self.back).collect();
        back.truncate(HISTORY);
        link(path, keep, Some(self.page + 1), Some(next), &back)
    }

    /// The link to the page before this one, while the history reaches it.
    pub fn prev_link(&self, path: &str, keep: &[(&str, &str)]) -> Option<String> {
        match self.page {
            1 => None,
            2 => Some(first_link(path, keep)),
            n => {
                let (token, back) = self.back.split_first()?;
                Some(link(
                    path,
                    keep,
                    Some(n - 1),
                    Some(token),
                    &back.iter().collect::<Vec<_>>(),
                ))
            }
        }
    }
}

/// The list's first page.
pub fn first_link(path: &str, keep: &[(&str, &str)]) -> String {
    link(path, keep, None, None, &[])
}

fn link(
    path: &str,
    keep: &[(&str, &str)],
    page: Option<u32>,
    token: Option<&PageToken>,
    back: &[&PageToken],
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in keep.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    if let Some(page) = page {
        q.append_pair("page", &page.to_string());
    }
    if let Some(t) = token {
        q.append_pair("page_token", t.as_str());
    }
    if !back.is_empty() {
        let joined: Vec<&str> = back.iter().map(|t| t.as_str()).collect();
        q.append_pair("back", &joined.join(","));
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(query: &str) -> Cursor {
        match Cursor::from_query(query).unwrap() {
            Requested::Page(c) => c,
            Requested::Restart => panic!("{query}: restart"),
        }
    }

    fn query_of(link: &str) -> &str {
        link.split_once('?').map_or("", |(_, q)| q)
    }

    #[test]
    fn links_walk_forward_and_back() {
        let t = |s: &str| PageToken::parse(s).unwrap();
        let p1 = page("");
        assert_eq!(p1, Cursor::first());
        assert_eq!(p1.prev_link("/", &[]), None);
        let to2 = p1.next_link("/", &[], &t("T2"));
        assert_eq!(to2, "/?page=2&page_token=T2");
        let p2 = page(query_of(&to2));
        assert_eq!(p2.prev_link("/", &[]).as_deref(), Some("/"));
        let p3 = page(query_of(&p2.next_link("/", &[], &t("T3"))));
        assert_eq!(p3.page, 3);
        let back_to_2 = p3.prev_link("/", &[]).unwrap();
        assert_eq!(page(query_of(&back_to_2)), p2);
    }

    #[test]
    fn history_is_bounded_and_then_offers_no_previous() {
        let mut c = Cursor::first();
        for n in 2..=(HISTORY as u32 + 3) {
            let next = c.next_link("/", &[], &PageToken::parse(&format!("T{n}")).unwrap());
            assert!(next.len() < 40 + 8 * HISTORY, "{next}");
            c = page(query_of(&next));
        }
        let mut steps = 0;
        while let Some(prev) = c.prev_link("/", &[]) {
            c = if prev == "/" {
                Cursor::first()
            } else {
                page(query_of(&prev))
            };
            steps += 1;
        }
        assert_eq!(steps, HISTORY, "back as far as the history reaches");
        assert!(c.page > 1);
    }

    #[test]
    fn tampered_links_are_refused() {
        for q in [
            "page=0",
            "page=abc",
            "page=-1",
            "page=100001",
            "page=2&page_token=a%20b",
            "page=2&page_token=%3Cscript%3E",
            "page=1&page_token=T",
            "page=3&page_token=T&back=A,B",
            "page=3&page_token=T&back=A,",
            "page=2&page_token=T&page_token=U",
        ] {
            assert!(Cursor::from_query(q).is_err(), "{q} accepted");
        }
        let long = format!("page=2&page_token={}", "a".repeat(PageToken::MAX_LEN + 1));
        assert!(Cursor::from_query(&long).is_err());
        assert_eq!(Cursor::from_query("page=7").unwrap(), Requested::Restart);
        assert!(
            Cursor::from_query("q=hello").is_ok(),
            "other keys are ignored"
        );
    }
}
