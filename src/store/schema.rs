// One schema for both backends (see migrations/sqlite and migrations/postgres).

diesel::table! {
    users (id) {
        id -> BigInt,
        google_sub -> Text,
        email -> Text,
        email_verified -> Bool,
        name -> Text,
        picture -> Nullable<Text>,
        is_admin -> Bool,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        issuer -> Text,
        blocked_by_provider -> Bool,
        credential_change_required_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    credentials (id) {
        id -> BigInt,
        user_id -> BigInt,
        client_id -> Text,
        refresh_token -> Nullable<Binary>,
        access_token -> Nullable<Binary>,
        access_expires_at -> Nullable<Timestamp>,
        scopes -> Text,
        status -> Text,
        updated_at -> Timestamp,
        refresh_lease_until -> Nullable<Timestamp>,
        refresh_lease_owner -> Nullable<Text>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Timestamp>,
        refresh_token_hash -> Nullable<Text>,
        refresh_token_prefix_hash -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Nullable<BigInt>,
        state -> Binary,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_user_id -> Nullable<BigInt>,
        action -> Text,
        target_user_id -> Nullable<BigInt>,
        detail -> Text,
        outcome -> Text,
    }
}

diesel::joinable!(credentials -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    credentials,
    sessions,
    audit_log,
    sync_status,
    risc_events
);

diesel::table! {
    sync_status (user_id) {
        user_id -> BigInt,
        synced_at -> Timestamp,
        drive_files -> Nullable<BigInt>,
        newest -> Text,
        error -> Nullable<Text>,
        gmail_messages -> Nullable<BigInt>,
    }
}

diesel::joinable!(sync_status -> users (user_id));

diesel::table! {
    sign_in_claims (state_hash) {
        state_hash -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    risc_events (jti, event_type) {
        jti -> Text,
        event_type -> Text,
        received_at -> Timestamp,
        user_id -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        action -> Text,
    }
}

diesel::joinable!(risc_events -> users (user_id));
