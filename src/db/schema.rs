// Diesel table definitions shared by both backends (hand-written to match
// migrations/sqlite and migrations/postgres, which must stay column-for-column alike).

diesel::table! {
    users (id) {
        id -> BigInt,
        name -> Text,
        roles -> Text,
        created_at -> Text,
        password_hash -> Nullable<Text>,
        disabled_at -> Nullable<Text>,
        full_name -> Nullable<Text>,
        title -> Nullable<Text>,
    }
}

diesel::table! {
    web_sessions (id) {
        id -> BigInt,
        user_id -> BigInt,
        session_hash -> Text,
        csrf_token -> Text,
        created_at -> Text,
        expires_at -> Text,
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
        customer_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        name -> Text,
        code -> Text,
        address -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    user_customers (user_id, customer_id) {
        user_id -> BigInt,
        customer_id -> BigInt,
    }
}

diesel::joinable!(instruments -> customers (customer_id));
diesel::joinable!(user_customers -> customers (customer_id));

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
diesel::table! {
    login_failures (id) {
        id -> BigInt,
        user_name -> Text,
        failed_at -> Text,
    }
}

diesel::joinable!(web_sessions -> users (user_id));
diesel::joinable!(instrument_status_changes -> instruments (instrument_id));

diesel::table! {
    calibrations (id) {
        id -> BigInt,
        instrument_id -> BigInt,
        kind -> Text,
        status -> Text,
        performed_on -> Date,
        received_on -> Nullable<Date>,
        issued_on -> Nullable<Date>,
        due_on -> Nullable<Date>,
        decision_rule -> Text,
        out_of_tolerance -> Bool,
        issuer_name -> Nullable<Text>,
        issuer_certificate_number -> Nullable<Text>,
        accredited -> Bool,
        certificate_number -> Nullable<Text>,
        replaces_number -> Nullable<Text>,
        superseded_by -> Nullable<Text>,
        status_reason -> Nullable<Text>,
        body -> Text,
        results -> Text,
        created_by -> BigInt,
        approved_by -> Nullable<BigInt>,
        created_at -> Text,
        updated_at -> Text,
        chain_broken -> Bool,
        updated_by -> Nullable<BigInt>,
        approval_meaning -> Nullable<Text>,
        approved_at -> Nullable<Text>,
    }
}

diesel::table! {
    calibration_contributors (calibration_id, user_id) {
        calibration_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    calibration_standards (calibration_id, position) {
        calibration_id -> BigInt,
        position -> Integer,
        standard_id -> BigInt,
    }
}

diesel::table! {
    certificate_counters (year) {
        year -> Integer,
        last_number -> Integer,
    }
}

diesel::table! {
    cmcs (id) {
        id -> BigInt,
        quantity_kind -> Text,
        body -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    certificates (number) {
        number -> Text,
        calibration_id -> BigInt,
        instrument_id -> BigInt,
        issued_on -> Date,
        pdf -> Binary,
        pdf_sha256 -> Text,
        dcc -> Binary,
        dcc_sha256 -> Text,
        audit_head -> Text,
        created_at -> Text,
        item_manufacturer -> Nullable<Text>,
        item_model -> Nullable<Text>,
        item_serial_number -> Nullable<Text>,
        customer_name -> Nullable<Text>,
    }
}

diesel::table! {
    signing_identities (id) {
        id -> BigInt,
        subject -> Text,
        fingerprint_sha256 -> Text,
        not_after -> Text,
        certificate_pem -> Text,
        chain_pem -> Text,
        key_pem -> Nullable<Text>,
        installed_at -> Text,
        installed_by -> Text,
        retired_at -> Nullable<Text>,
    }
}

diesel::table! {
    issuer_certificates (calibration_id) {
        calibration_id -> BigInt,
        content_type -> Text,
        file -> Binary,
        sha256 -> Text,
        bytes -> BigInt,
        uploaded_by -> Nullable<BigInt>,
        uploaded_at -> Text,
    }
}

diesel::joinable!(calibrations -> instruments (instrument_id));
diesel::joinable!(issuer_certificates -> calibrations (calibration_id));
diesel::joinable!(certificates -> calibrations (calibration_id));
diesel::joinable!(calibration_standards -> calibrations (calibration_id));
diesel::joinable!(calibration_contributors -> calibrations (calibration_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    api_tokens,
    web_sessions,
    login_failures,
    instruments,
    instrument_status_changes,
    audit_log,
    calibrations,
    calibration_standards,
    calibration_contributors,
    certificate_counters,
    cmcs,
    certificates,
    signing_identities,
    customers,
    user_customers,
    issuer_certificates,
    latest_calibrations,
    customer_instrument_counts,
    certificate_counts,
);

// Each instrument's latest calibration on record, maintained by triggers (migration 000050).
diesel::table! {
    latest_calibrations (instrument_id) {
        instrument_id -> BigInt,
        in_service -> Bool,
        calibration_id -> Nullable<BigInt>,
        performed_on -> Nullable<Date>,
        due_on -> Nullable<Date>,
        status -> Nullable<Text>,
        out_of_tolerance -> Nullable<Bool>,
        chain_broken -> Nullable<Bool>,
        asset_tag -> Text,
        customer -> Nullable<Text>,
    }
}

diesel::joinable!(latest_calibrations -> instruments (instrument_id));

// How many instruments each customer has, maintained by triggers (migration 000051).
diesel::table! {
    customer_instrument_counts (customer_id) {
        customer_id -> BigInt,
        instruments -> BigInt,
    }
}

// How many certificates were issued each day, maintained by a trigger (migration 000053).
diesel::table! {
    certificate_counts (issued_on) {
        issued_on -> Date,
        certificates -> BigInt,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        secret -> Binary,
    }
}

diesel::table! {
    authorisations (id) {
        id -> BigInt,
        user_id -> BigInt,
        activity -> Text,
        quantity_kind -> Text,
        procedure_code -> Nullable<Text>,
        valid_from -> Date,
        valid_until -> Nullable<Date>,
        created_at -> Text,
    }
}

diesel::table! {
    procedures (id) {
        id -> BigInt,
        code -> Text,
        version -> Text,
        title -> Text,
        quantity_kind -> Text,
        status -> Text,
        validated_on -> Nullable<Date>,
        document_url -> Nullable<Text>,
        created_at -> Text,
    }
}

diesel::joinable!(authorisations -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(authorisations, users);

diesel::table! {
    validity_statements (number) {
        number -> Text,
        requested_by -> BigInt,
        requester_name -> Text,
        created_at -> Text,
        lab_name -> Text,
        request -> Text,
        results -> Text,
        row_count -> Integer,
        pdf -> Binary,
        pdf_sha256 -> Text,
        signed -> Bool,
    }
}

diesel::table! {
    validity_statement_counters (year) {
        year -> Integer,
        last_number -> Integer,
    }
}

diesel::joinable!(validity_statements -> users (requested_by));
diesel::allow_tables_to_appear_in_same_query!(validity_statements, users);
