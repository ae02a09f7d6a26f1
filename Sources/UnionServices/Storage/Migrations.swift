import Logging
import SQLKit

/// The schema, as numbered migrations applied in order on start-up, each in its own transaction.
/// Written with SQLKit's schema builders, so that every database the store runs on gets the same
/// tables and constraints in its own dialect. A change is a new migration.
enum Migrations {
    struct Migration: Sendable {
        let version: Int
        let name: String
        let apply: @Sendable (any SQLDatabase) async throws -> Void
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "settings") { database in
            try await database.create(table: "settings")
                .column("key", type: .text, .primaryKey(autoIncrement: false), .notNull)
                .column("value", type: .text, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .run()
        },
        Migration(version: 2, name: "union services") { database in
            // Receipt numbers: one counter per prefix and year (JY-2026-000123).
            try await database.create(table: "receipt_counters")
                .column("prefix", type: .text, .notNull)
                .column("year", type: .bigint, .notNull)
                .column("last", type: .bigint, .notNull)
                .primaryKey("prefix", "year")
                .run()
            // Join applications. message_key makes a retried confirmation store nothing twice.
            try await database.create(table: "membership_applications")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("number", type: .text, .notNull, .unique)
                .column("openid", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("phone", type: .text, .notNull)
                .column("unit", type: .text, .notNull)
                .column("extra", type: .text, .notNull, .default("{}"))
                .column("status", type: .text, .notNull, oneOf(MembershipApplication.Status.self, column: "status"))
                .column("reason", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("decided_at", type: .bigint)
                .column("message_key", type: .text, .unique)
                .run()
            try await index("membership_applications", "openid", "id", on: database)
            try await index("membership_applications", "status", "id", on: database)
            try await database.create(table: "suggestions")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("number", type: .text, .notNull, .unique)
                .column("openid", type: .text, .notNull)
                .column("content", type: .text, .notNull)
                .column("status", type: .text, .notNull, oneOf(Suggestion.Status.self, column: "status"))
                .column("reply", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("message_key", type: .text, .unique)
                .run()
            try await index("suggestions", "openid", "id", on: database)
            try await database.create(table: "form_submissions")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("form", type: .text, .notNull)
                .column("number", type: .text, .notNull, .unique)
                .column("openid", type: .text, .notNull)
                .column("answers", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("message_key", type: .text, .unique)
                .run()
            try await index("form_submissions", "form", "id", on: database)
            // Where each member is in a form; a finished row keeps its reply for WeChat's retries.
            try await database.create(table: "conversations")
                .column("openid", type: .text, .primaryKey(autoIncrement: false), .notNull)
                .column("form", type: .text, .notNull)
                .column("step", type: .bigint, .notNull)
                .column("answers", type: .text, .notNull)
                .column("finished_key", type: .text)
                .column("finished_reply", type: .text)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            // Messages to send later through WeChat's customer-service API, queued in the same
            // transaction as the change that causes them.
            try await database.create(table: "outbox")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("openid", type: .text, .notNull)
                .column("account", type: .text, .notNull, .default(""))
                .column("bodies", type: .text, .notNull)
                .column("reason", type: .text, .notNull)
                .column(
                    "status", type: .text, .notNull, .default(OutboxMessage.Status.queued.rawValue),
                    oneOf(OutboxMessage.Status.self, column: "status")
                )
                .column("attempts", type: .bigint, .notNull, .default(0))
                .column("last_error", type: .text)
                .column("next_attempt_at", type: .bigint, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("sent_at", type: .bigint)
                .run()
            try await index("outbox", "status", "next_attempt_at", on: database)
        },
        Migration(version: 3, name: "conversation versions") { database in
            // Each write expects the version it read, so a stale copy cannot overwrite.
            try await database.alter(table: "conversations")
                .column("version", type: .bigint, .notNull, .default(1))
                .run()
            try await index("conversations", "updated_at", on: database)
        },
        Migration(version: 4, name: "organisation") { database in
            // The unit each record belongs to (a code from org.yaml; '' before units existed).
            for table in ["membership_applications", "suggestions", "form_submissions"] {
                try await database.alter(table: table)
                    .column("unit_code", type: .text, .notNull, .default(""))
                    .run()
                try await index(table, "unit_code", "id", on: database)
            }
            // Counting by unit and status (statistics) reads these indexes only.
            try await index("membership_applications", "unit_code", "status", on: database)
            try await index("suggestions", "unit_code", "status", on: database)
            // The QR code an application came through, for the funnel.
            try await database.alter(table: "membership_applications").column("qr_ticket", type: .text).run()
            try await index("membership_applications", "qr_ticket", on: database)
            try await index("suggestions", "status", "id", on: database)
            try await database.create(table: "staff")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("name", type: .text, .notNull, .unique)
                .column("unit_code", type: .text, .notNull)
                .column("role", type: .text, .notNull, oneOf(StaffRole.self, column: "role"))
                .column("password_hash", type: .text, .notNull)
                .column("must_change_password", type: .bigint, .notNull, .default(1))
                .column("disabled", type: .bigint, .notNull, .default(0))
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            // Personal API tokens, as SHA-256 digests only.
            try await database.create(table: "staff_tokens")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("staff_id", type: .bigint, .notNull, .references("staff", "id"))
                .column("digest", type: .text, .notNull, .unique)
                .column("created_at", type: .bigint, .notNull)
                .run()
            // Who did what, when, to which record, with the values before and after. Rows are
            // only ever inserted.
            try await database.create(table: "audit_log")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("at", type: .bigint, .notNull)
                .column("actor", type: .text, .notNull)
                .column("action", type: .text, .notNull)
                .column("record", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull, .default(""))
                .column("before", type: .text)
                .column("after", type: .text)
                .run()
            try await index("audit_log", "unit_code", "id", on: database)
            // Parametric QR codes made for units (扫码入会), with their image.
            try await database.create(table: "qr_codes")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("scene", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull)
                .column("permanent", type: .bigint, .notNull)
                .column("ticket", type: .text, .notNull, .unique)
                .column("url", type: .text, .notNull)
                .column("image", type: .blob)
                .column("expires_at", type: .bigint)
                .column("created_at", type: .bigint, .notNull)
                .column("created_by", type: .text, .notNull)
                .column("deleted_at", type: .bigint)
                .run()
            try await index("qr_codes", "scene", "id", on: database)
            // Scans and follows through a code; message_key keeps WeChat's retries out.
            try await database.create(table: "qr_events")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("ticket", type: .text, .notNull)
                .column("openid", type: .text, .notNull)
                .column("kind", type: .text, .notNull, oneOf(QREventKind.self, column: "kind"))
                .column("at", type: .bigint, .notNull)
                .column("message_key", type: .text, .unique)
                .run()
            try await index("qr_events", "ticket", "kind", on: database)
        },
        Migration(version: 5, name: "inbox") { database in
            // What members raised that no rule answered (留言), and each case's thread.
            try await database.create(table: "cases")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("number", type: .text, .notNull, .unique)
                .column("openid", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull, .default(""))
                .column("status", type: .text, .notNull, oneOf(MemberCase.Status.self, column: "status"))
                .column("assigned_staff", type: .text)
                .column("escalated_to", type: .text)
                .column("due_at", type: .bigint, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("last_member_at", type: .bigint, .notNull)
                .column("closed_at", type: .bigint)
                .column("rating", type: .bigint)
                .column("rated_at", type: .bigint)
                .run()
            try await index("cases", "openid", "id", on: database)
            try await index("cases", "status", "due_at", on: database)
            try await index("cases", "unit_code", "id", on: database)
            try await database.create(table: "case_messages")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("case_id", type: .bigint, .notNull, .references("cases", "id"))
                .column("direction", type: .text, .notNull)
                .column("author", type: .text)
                .column("kind", type: .text, .notNull)
                .column("content", type: .text, .notNull)
                .column("media_id", type: .text)
                // pending, stored or failed; the download is tried again like an outbox message.
                .column("media_status", type: .text)
                .column("media_path", type: .text)
                .column("media_type", type: .text)
                .column("media_attempts", type: .bigint, .notNull, .default(0))
                .column("media_next_at", type: .bigint)
                .column("media_error", type: .text)
                .column("message_key", type: .text, .unique)
                .column("created_at", type: .bigint, .notNull)
                .run()
            try await index("case_messages", "case_id", "id", on: database)
            try await index("case_messages", "media_status", "media_next_at", on: database)
            // Form submissions (法律援助, 困难帮扶, 疗休养 …) get a status and the union's reply.
            try await database.alter(table: "form_submissions")
                .column(
                    "status", type: .text, .notNull, .default(FormSubmission.Status.received.rawValue),
                    oneOf(FormSubmission.Status.self, column: "status")
                )
                .run()
            try await database.alter(table: "form_submissions").column("reply", type: .text).run()
            try await database.alter(table: "form_submissions").column("updated_at", type: .bigint).run()
            try await index("form_submissions", "openid", "id", on: database)
        },
        Migration(version: 6, name: "notice channels") { database in
            // A notice's kind and fields, so that a template can be filled when it is sent; the
            // channel that reached the member (or why none did); WeChat's message id, to match
            // the delivery report; the channels already refused, not tried again.
            for column in ["notice_kind", "notice_fields", "channel", "channel_note", "wechat_msg_id", "delivery"] {
                try await database.alter(table: "outbox").column(column, type: .text).run()
            }
            try await database.alter(table: "outbox").column("refused", type: .text, .notNull, .default("")).run()
            try await index("outbox", "wechat_msg_id", on: database)
            // What each member accepted in WeChat's subscription pop-up or settings, per template.
            try await database.create(table: "notice_subscriptions")
                .column("openid", type: .text, .notNull)
                .column("template_id", type: .text, .notNull)
                // accept, reject, or used (WeChat said 43101: a one-time acceptance was spent)
                .column("status", type: .text, .notNull)
                .column("scene", type: .text)
                .column("updated_at", type: .bigint, .notNull)
                .primaryKey("openid", "template_id")
                .run()
            // WeChat's delivery reports of subscription notifications, as received.
            try await database.create(table: "notice_reports")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("openid", type: .text, .notNull)
                .column("template_id", type: .text, .notNull)
                .column("msg_id", type: .text, .notNull)
                .column("error_code", type: .bigint, .notNull)
                .column("error_status", type: .text, .notNull)
                .column("received_at", type: .bigint, .notNull)
                .run()
            try await index("notice_reports", "openid", "id", on: database)
        },
        Migration(version: 7, name: "outbox claims") { database in
            // When a worker claimed a row to send it: another instance takes the row over once
            // the claim is older than the lease (the claimer crashed).
            try await database.alter(table: "outbox").column("claimed_at", type: .bigint).run()
        },
        Migration(version: 8, name: "console") { database in
            // The web console's sign-in sessions, shared by every instance: the key is the
            // cookie's random value, the value the session as JSON.
            try await database.create(table: "console_sessions")
                .column("key", type: .text, .primaryKey(autoIncrement: false), .notNull)
                .column("value", type: .text, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .run()
            try await index("console_sessions", "expires_at", on: database)
            // Every version of a rule file saved from the console, so that any earlier one can
            // be restored (the file on disk stays the source of truth).
            try await database.create(table: "rule_versions")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("file", type: .text, .notNull)
                .column("text", type: .text, .notNull)
                .column("saved_by", type: .text, .notNull)
                .column("saved_at", type: .bigint, .notNull)
                .column("note", type: .text)
                .run()
            try await index("rule_versions", "file", "id", on: database)
            // The console's overview reads the last 30 days by their time.
            try await index("membership_applications", "created_at", on: database)
            try await index("membership_applications", "status", "decided_at", on: database)
            try await index("suggestions", "created_at", on: database)
            try await index("cases", "created_at", on: database)
            try await index("case_messages", "created_at", on: database)
        },
        Migration(version: 9, name: "daily counts") { database in
            // Messages and new followers per local day (its start, in Unix seconds), added to
            // by every instance every few seconds, for the console's overview.
            try await database.create(table: "daily_counts")
                .column("day", type: .bigint, .notNull)
                .column("name", type: .text, oneOf(DailyCounts.Name.self, column: "name"), .notNull)
                .column("count", type: .bigint, .notNull)
                .primaryKey("day", "name")
                .run()
            // The members list's search reads the columns it looks in (and those its filters
            // use) from this index, not the rows with every answer: a fraction of the pages.
            try await database.create(index: "membership_applications_search").on("membership_applications")
                .column("name").column("number").column("phone").column("unit_code").column("status").column("openid")
                .run()
        },
        Migration(version: 10, name: "member pages") { database in
            // Personal links into the member pages, by the SHA-256 of their token; each opens once.
            try await database.create(table: "member_links")
                .column("token_sha256", type: .text, .primaryKey(autoIncrement: false), .notNull)
                .column("openid", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .column("used_at", type: .bigint)
                .run()
            try await index("member_links", "expires_at", on: database)
            // The e-member card's codes: one per member and minute (the period), unique while kept.
            try await database.create(table: "member_card_codes")
                .column("code", type: .text, .primaryKey(autoIncrement: false), .notNull)
                .column("openid", type: .text, .notNull)
                .column("period", type: .bigint, .notNull)
                .column("expires_at", type: .bigint, .notNull)
                .run()
            try await index("member_card_codes", "openid", "period", on: database)
            try await index("member_card_codes", "expires_at", on: database)
            // A member's own record shows what was done to it, read by the record's name.
            try await index("audit_log", "record", on: database)
            // The real-name roster: identity and phone sealed with the data key (kept outside the
            // database), found by their keyed lookups; a WeChat binds to one row at most.
            try await database.create(table: "member_roster")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("unit_code", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("id_sealed", type: .text)
                .column("id_lookup", type: .text, .unique)
                .column("id_mask", type: .text, .notNull, .default(""))
                .column("phone_sealed", type: .text)
                .column("phone_lookup", type: .text)
                .column("phone_mask", type: .text, .notNull, .default(""))
                .column("member_number", type: .text, .notNull, .unique)
                .column("joined_on", type: .text, .notNull, .default(""))
                .column("openid", type: .text, .unique)
                .column("source", type: .text, .notNull, oneOf(RosterEntry.Source.self, column: "source"))
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("bound_at", type: .bigint)
                .run()
            try await index("member_roster", "unit_code", "id", on: database)
            try await index("member_roster", "phone_lookup", on: database)
            // Photos sent with the union's forms on the member pages: files beside the database,
            // each reached only by its random token.
            try await database.create(table: "form_photos")
                .column("token", type: .text, .primaryKey(autoIncrement: false), .notNull)
                .column("submission_id", type: .bigint, .notNull)
                .column("field", type: .text, .notNull)
                .column("openid", type: .text, .notNull)
                .column("content_type", type: .text, .notNull)
                .column("bytes", type: .bigint, .notNull)
                .column("file", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()
            try await index("form_photos", "submission_id", on: database)
            // A roster file read and previewed, waiting for staff to confirm it: its rows sealed.
            try await database.create(table: "roster_imports")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("unit_code", type: .text, .notNull)
                .column("actor", type: .text, .notNull)
                .column("file_name", type: .text, .notNull)
                .column("rows_sealed", type: .text, .notNull)
                .column("summary", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("applied_at", type: .bigint)
                .run()
        },
        Migration(version: 11, name: "aid workflows") { database in
            // Applications that climb the tree (困难帮扶 …): where each is (`stop`, an index into
            // its `chain` of deciding units, fixed when submitted), its level's unit and due time
            // for the queues, and what the levels recorded.
            try await database.create(table: "aid_applications")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("workflow", type: .text, .notNull)
                .column("number", type: .text, .notNull, .unique)
                .column("openid", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull)
                .column("answers", type: .text, .notNull)
                .column("status", type: .text, .notNull, oneOf(AidApplication.Status.self, column: "status"))
                .column("stop", type: .bigint, .notNull)
                .column("chain", type: .text, .notNull)
                .column("level_unit", type: .text, .notNull)
                .column("due_at", type: .bigint, .notNull)
                .column("escalated_to", type: .text)
                .column("asked", type: .text)
                .column("recorded", type: .text, .notNull, .default("{}"))
                .column("amount_cents", type: .bigint)
                .column("reason", type: .text)
                .column("message_key", type: .text, .notNull, .unique)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("decided_at", type: .bigint)
                .run()
            try await index("aid_applications", "level_unit", "status", "due_at", on: database)
            try await index("aid_applications", "unit_code", "id", on: database)
            try await index("aid_applications", "openid", "id", on: database)
            // Each application's steps, oldest first: the member's timeline and the statistics.
            try await database.create(table: "aid_steps")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("application_id", type: .bigint, .notNull)
                .column("stop", type: .bigint, .notNull)
                .column("level", type: .bigint, .notNull)
                .column("unit_code", type: .text, .notNull)
                .column("actor", type: .text, .notNull)
                .column("action", type: .text, .notNull, oneOf(AidStep.Action.self, column: "action"))
                .column("note", type: .text)
                .column("recorded", type: .text)
                .column("message_key", type: .text, .unique)
                .column("at", type: .bigint, .notNull)
                .run()
            try await index("aid_steps", "application_id", "id", on: database)
            try await index("aid_steps", "at", on: database)
            // A member's application in progress, saved between its steps.
            try await database.create(table: "aid_drafts")
                .column("openid", type: .text, .notNull)
                .column("workflow", type: .text, .notNull)
                .column("answers", type: .text, .notNull)
                .column("step", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .primaryKey("openid", "workflow")
                .run()
            // Photos belong to a form's submission or to an aid application.
            try await database.alter(table: "form_photos")
                .column("record_kind", type: .text, .notNull, .default("form"))
                .run()
        },
        Migration(version: 12, name: "activities") { database in
            // Activities members sign up for: time, place, places, waitlist, who may come.
            try await database.create(table: "activities")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("title", type: .text, .notNull)
                .column("description", type: .text, .notNull, .default(""))
                .column("picture", type: .text, .notNull, .default(""))
                .column("place", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull)
                .column("shared_with", type: .text, .notNull, .default(""))
                .column("members_only", type: .bigint, .notNull)
                .column("starts_at", type: .bigint, .notNull)
                .column("ends_at", type: .bigint, .notNull)
                .column("opens_at", type: .bigint, .notNull)
                .column("closes_at", type: .bigint, .notNull)
                .column("capacity", type: .bigint, .notNull)
                .column("waitlist", type: .bigint, .notNull)
                .column("max_people", type: .bigint, .notNull)
                .column("walk_ins", type: .bigint, .notNull)
                .column("checkin_ticket", type: .text)
                .column("checkin_url", type: .text)
                .column("reminded_at", type: .bigint)
                .column("status", type: .text, .notNull, oneOf(Activity.Status.self, column: "status"))
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            try await index("activities", "status", "starts_at", on: database)
            try await index("activities", "checkin_ticket", on: database)
            // Sign-ups, in the order made (the id): `active_key` holds `activity:openid` while
            // the sign-up holds or waits for places, so a member has one at a time.
            try await database.create(table: "activity_signups")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("activity_id", type: .bigint, .notNull)
                .column("openid", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull)
                .column("people", type: .bigint, .notNull)
                .column("status", type: .text, .notNull, oneOf(ActivitySignUp.Status.self, column: "status"))
                .column("active_key", type: .text, .unique)
                .column("answers", type: .text, .notNull, .default("{}"))
                .column("message_key", type: .text, .unique)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .column("promoted_at", type: .bigint)
                .column("cancelled_at", type: .bigint)
                .column("checked_in_at", type: .bigint)
                .column("checkin_key", type: .text)
                .column("reminded_at", type: .bigint)
                .run()
            try await index("activity_signups", "activity_id", "status", "id", on: database)
            try await index("activity_signups", "openid", "id", on: database)
        },
        Migration(version: 13, name: "clubs and volunteer hours") { database in
            // Clubs by interest (职工俱乐部) and volunteer teams (志愿服务队), declared by staff.
            try await database.create(table: "clubs")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("name", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull)
                .column("description", type: .text, .notNull, .default(""))
                .column("leader", type: .text, .notNull, .default(""))
                .column("volunteer", type: .bigint, .notNull)
                .column("status", type: .text, .notNull, oneOf(Club.Status.self, column: "status"))
                .column("created_by", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            // Who asked to join a club and what was decided: `active_key` holds `club:openid`
            // while the request waits or the member belongs, so a member asks once.
            try await database.create(table: "club_members")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("club_id", type: .bigint, .notNull)
                .column("openid", type: .text, .notNull)
                .column("unit_code", type: .text, .notNull)
                .column("status", type: .text, .notNull, oneOf(ClubMembership.Status.self, column: "status"))
                .column("active_key", type: .text, .unique)
                .column("message_key", type: .text, .unique)
                .column("reason", type: .text)
                .column("decided_by", type: .text)
                .column("created_at", type: .bigint, .notNull)
                .column("decided_at", type: .bigint)
                .run()
            try await index("club_members", "club_id", "status", "id", on: database)
            try await index("club_members", "openid", "id", on: database)
            // A club's activities (for its members only), and activities that record service
            // hours: checked out by a second code, the minutes kept on the sign-up.
            try await database.alter(table: "activities").column("club_id", type: .bigint).run()
            try await database.alter(table: "activities")
                .column("records_hours", type: .bigint, .notNull, .default(0)).run()
            try await database.alter(table: "activities").column("checkout_ticket", type: .text).run()
            try await database.alter(table: "activities").column("checkout_url", type: .text).run()
            // What an activity asks at sign-up, one question a line (``ActivityQuestions``).
            try await database.alter(table: "activities")
                .column("questions", type: .text, .notNull, .default("")).run()
            try await database.alter(table: "activity_signups").column("checked_out_at", type: .bigint).run()
            try await database.alter(table: "activity_signups").column("checkout_key", type: .text).run()
            try await database.alter(table: "activity_signups").column("service_minutes", type: .bigint).run()
            try await index("activities", "club_id", on: database)
            // A club leader's console account sees their club only.
            try await database.alter(table: "staff").column("club_id", type: .bigint).run()
        },
        Migration(version: 14, name: "daily counts once across instances") { database in
            // The messages counted per day by instances sharing a database, by their message key:
            // WeChat's retry that reaches another instance is not counted again. Days past are
            // removed as counts are flushed.
            try await database.create(table: "daily_count_keys")
                .column("day", type: .bigint, .notNull)
                .column("name", type: .text, oneOf(DailyCounts.Name.self, column: "name"), .notNull)
                .column("message_key", type: .text, .notNull)
                .primaryKey("day", "name", "message_key")
                .run()
        },
        Migration(version: 15, name: "members' turns across instances") { database in
            // PostgreSQL only (instances share it): each message a member sends takes a turn,
            // so that their messages are applied in order on whichever instance each reached
            // (MemberTurns). A turn lasts as long as its message: the table is not WAL-logged.
            guard database.dialect.name == "postgresql" else { return }
            try await database.raw(
                """
                CREATE UNLOGGED TABLE member_turns (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    account TEXT NOT NULL, openid TEXT NOT NULL, taken_at BIGINT NOT NULL)
                """
            ).run()
            try await database.raw("CREATE INDEX member_turns_member ON member_turns (openid, id)").run()
        },
        Migration(version: 16, name: "members found by pieces of their name and phone") { database in
            // PostgreSQL only: a search of members' names and phone numbers is a substring
            // search; the pieces of one to three characters of each value are indexed, and a
            // search looks up the pieces of its text (StoreDialect.contains(indexed:)).
            guard database.dialect.name == "postgresql" else { return }
            try await database.raw(
                """
                CREATE FUNCTION uniongate_grams(value text) RETURNS text[]
                LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
                    SELECT coalesce(array_agg(DISTINCT substr(value, start, size)), '{}')
                    FROM generate_series(1, 3) AS size, generate_series(1, length(value)) AS start
                    WHERE start + size - 1 <= length(value)
                $$
                """
            ).run()
            for column in ["name", "phone"] {
                try await database.raw(
                    """
                    CREATE INDEX membership_applications_\(unsafeRaw: column)_grams ON membership_applications
                    USING gin (uniongate_grams(\(unsafeRaw: column)))
                    """
                ).run()
            }
        },
    ]

    /// A `CHECK` that the column holds one of the enum's raw values: the schema enforces what
    /// the code's enums allow.
    static func oneOf<Values: CaseIterable & RawRepresentable>(_ values: Values.Type, column: String)
        -> SQLColumnConstraintAlgorithm where Values.RawValue == String
    {
        .check(
            SQLBinaryExpression(
                left: SQLColumn(column), op: SQLBinaryOperator.in,
                right: SQLGroupExpression(values.allCases.map { SQLLiteral.string($0.rawValue) })))
    }

    /// An index named after its table and columns.
    static func index(_ table: String, _ columns: String..., on database: any SQLDatabase) async throws {
        var builder = database.create(index: ([table] + columns.filter { $0 != "id" }).joined(separator: "_")).on(table)
        for column in columns { builder = builder.column(column) }
        try await builder.run()
    }

    /// The advisory lock that instances starting at once take in turn to migrate.
    static let lockKey: Int64 = 0x556E_696F_6E47_6174  // "UnionGat"

    static func apply(to store: UnionStore, logger: Logger) async throws {
        let dialect = store.dialect
        try await store.transaction { database in
            try await dialect.lockForTransaction(lockKey, database)
            try await database.create(table: "schema_migrations").ifNotExists()
                .column("version", type: .bigint, .primaryKey(autoIncrement: false), .notNull)
                .column("name", type: .text, .notNull)
                .column("applied_at", type: .bigint, .notNull)
                .run()
        }
        let applied = try await store.read { database in
            try await database.select().column("version").from("schema_migrations").all(
                decodingColumn: "version", as: Int.self)
        }
        let newest = applied.max() ?? 0
        if let latest = all.last, newest > latest.version {
            throw StoreError(
                "the database was written by a newer UnionGate (schema \(newest), this build knows \(latest.version))")
        }
        for migration in all where !applied.contains(migration.version) {
            let done = try await store.transaction { database -> Bool in
                // Another instance starting at the same time may have applied it meanwhile.
                try await dialect.lockForTransaction(lockKey, database)
                let already =
                    try await database.select().column("version").from("schema_migrations")
                    .where("version", .equal, migration.version).first() != nil
                if already { return false }
                try await migration.apply(database)
                try await database.insert(into: "schema_migrations")
                    .columns("version", "name", "applied_at")
                    .values(SQLBind(migration.version), SQLBind(migration.name), SQLBind(UnixTime.now()))
                    .run()
                return true
            }
            guard done else { continue }
            logger.info(
                "applied database migration",
                metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        }
    }
}
