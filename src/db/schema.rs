// Diesel table definitions shared by both backends (hand-written to match
// migrations/sqlite and migrations/postgres, which must stay column-for-column alike).

diesel::table! {
    users (id) {
        id -> BigInt,
        name -> Text,
        roles -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_at -> Text,
        revoked_at -> Nullable<Text>,
    }
}

diesel::table! {
    instruments (id) {
        id -> BigInt,
        asset_tag -> Text,
        description -> Nullable<Text>,
        manufacturer -> Nullable<Text>,
        model -> Nullable<Text>,
        serial_number -> Nullable<Text>,
        role -> Text,
        quantity_kind -> Text,
        range_min_value -> Nullable<Double>,
        range_min_unit -> Nullable<Text>,
        range_max_value -> Nullable<Double>,
        range_max_unit -> Nullable<Text>,
        resolution_value -> Nullable<Double>,
        resolution_unit -> Nullable<Text>,
        customer -> Nullable<Text>,
        location -> Nullable<Text>,
        interval_days -> Nullable<Integer>,
        institute -> Nullable<Text>,
        country -> Nullable<Text>,
        standard_identifier -> Nullable<Text>,
        status -> Text,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    instrument_status_changes (id) {
        id -> BigInt,
        instrument_id -> BigInt,
        status -> Text,
        effective_on -> Date,
        reason -> Nullable<Text>,
        changed_by -> Nullable<BigInt>,
        created_at -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        occurred_at -> Text,
        user_id -> Nullable<BigInt>,
        user_name -> Text,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(instrument_status_changes -> instruments (instrument_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    api_tokens,
    instruments,
    instrument_status_changes,
    audit_log
);
