# Every Lambda of the portal, one entry per crate under functions/. Adding a function is one entry here:
# lambda.tf, iam.tf, api.tf, schedules.tf and alarms.tf are all driven by this map, and
# infra/tests/consistency.py fails (naming what is missing) when an entry does not match the crate's code.
#
# Entry fields:
#   memory, timeout      MB and seconds
#   env                  environment beyond local.common_env (values may reference resources and variables)
#   secrets              env var => key of local.secret_arns; the value is fed to the variable at apply time
#   permissions          IAM statements: actions and placeholder resources, expanded in iam.tf:
#                          {table}, {table}/index/<name>, {exports_bucket}[/prefix], {documents_bucket}[/prefix],
#                          {ses_identities} (every brand identity and the configuration set), {secret:<key>},
#                          {queue:<key>} (iam.tf local.queue_arns)
#                          {details_key} (the traveller-details KMS key, kms.tf: the only way to it; the key
#                          policy grants the same actions to this role, both only with the sealing context)
#   leading_keys         partition keys the function may touch (IAM StringLike patterns: "B#*", "DUE"), set by iam.tf
#                        as a ForAllValues:StringLike dynamodb:LeadingKeys condition on its dynamodb:* statements.
#                        For a Query of an index the leading key is the index's hash key value (EMAIL#..., DUE,
#                        UNEXPORTED, HELD, OPEN). Rule, checked by consistency.py: every partition-key constructor
#                        the function's code can reach (fn *_pk, const *_PK, `pk: format!("X#..")`, read from
#                        shared/ and functions/ sources) is covered, and so is the table partition of the items an
#                        index it queries returns; an index hash value (*_GSI<N>PK) counts only when the function
#                        may query that index. A missing prefix is AccessDenied in AWS only (moto ignores it).
#   reserved_concurrency null for the account pool, or a cap (protects what the function calls)
#   schedules            EventBridge Scheduler schedules ({} for none): id => { expression, input }, each invoking the
#                        function with its `input` (a JSON string). The schedule is named <prefix>-<function> when its
#                        id is `default`, else <prefix>-<function>-<id> (schedules.tf local.schedules), so a function
#                        may have several (notification-relay: `relay` every minute, `plan` once a day).
#   http                 true when docs/openapi.json routes to it (x-portal-function)

locals {
  # Set on every function. RUST_LOG feeds tracing's EnvFilter (portal_http::init_tracing).
  common_env = {
    TABLE_NAME = aws_dynamodb_table.portal.name
    RUST_LOG   = "info"
  }

  functions = {
    "operator-bookings" = {
      memory  = 256
      timeout = 10
      env = {
        OPERATOR_AUTH       = "iam"
        OPERATOR_PRINCIPALS = join(",", var.operator_principal_arns)
        DOCUMENTS_QUEUE_URL = aws_sqs_queue.documents.url
        GATEWAY_TIMEOUT_MS  = "3000"
      }
      # A price change or cancellation cancels the booking's open checkouts at Stripe.
      secrets              = { STRIPE_SECRET_KEY = "stripe_secret_key" }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        { actions = ["dynamodb:Query"], resources = ["{table}"] },
        { actions = ["dynamodb:PutItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        # After a change commits: queue the document regeneration (docs/documents.md).
        { actions = ["sqs:SendMessage"], resources = ["{queue:documents}"] },
      ]
      # The booking collection and its outbox events; LINK#: an upsert that takes access away deletes unused links;
      # NOTE#: the customer emails a change puts into the mail outbox in its transaction (the notification-relay).
      leading_keys = ["B#*", "OUTBOX#*", "LINK#*", "NOTE#*"]
    }

    "auth" = {
      memory  = 256
      timeout = 10
      env = {
        OPERATOR_AUTH              = "iam"
        OPERATOR_PRINCIPALS        = join(",", var.operator_principal_arns)
        PORTAL_URL                 = var.portal_url
        EMAIL_SENDER               = var.brands["default"].sender
        BRANDS_JSON                = local.brands_json
        MAGIC_LINK_TTL_SECONDS     = tostring(var.magic_link_ttl_seconds)
        SESSION_IDLE_SECONDS       = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS    = tostring(var.session_max_age_seconds)
        RATE_CODE_FAILURES_PER_DAY = tostring(var.code_failures_per_booking_per_day)
        # POST /auth/magic-links queues the email for the sign-in-mailer (infra/sign-in.tf).
        SIGN_IN_QUEUE_URL = aws_sqs_queue.sign_in_mail.url
      }
      secrets = {
        SESSION_KEYS   = "session_keys"
        TOKEN_HASH_KEY = "token_hash_key"
      }
      # Caps sign-in mail (SES sending quota, mail-bombing) even if the per-client rate limits are spread wide.
      reserved_concurrency = 20
      schedules            = {}
      http                 = true
      permissions = [
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        # The operator route (POST /operator/bookings/{reference}/magic-links with send_email) still sends synchronously.
        { actions = ["ses:SendEmail"], resources = ["{ses_identities}"] },
        { actions = ["sqs:SendMessage"], resources = ["{queue:sign_in_mail}"] },
      ]
      # Bookings (sessions, travellers), sign-in links, rate-limit counters.
      leading_keys = ["B#*", "LINK#*", "RATE#*"]
    }

    # Consumes the sign-in queue (infra/sign-in.tf): checks the traveller still matches, counts the address's
    # daily cap, issues the link and emails it (functions/auth/src/mailer.rs).
    "sign-in-mailer" = {
      memory  = 256
      timeout = 30
      env = {
        PORTAL_URL             = var.portal_url
        EMAIL_SENDER           = var.brands["default"].sender
        BRANDS_JSON            = local.brands_json
        MAGIC_LINK_TTL_SECONDS = tostring(var.magic_link_ttl_seconds)
        RATE_EMAIL_PER_DAY     = tostring(var.sign_in_emails_per_day)
      }
      secrets = { TOKEN_HASH_KEY = "token_hash_key" }
      # Caps the SES send rate however many requests are queued.
      reserved_concurrency = 10
      schedules            = {}
      http                 = false
      permissions = [
        # The booking read (Query), the daily cap counter (UpdateItem), the link and the retirement of older
        # ones in one TransactWriteItems (Put, Delete). No GetItem: the mailer never calls it.
        { actions = ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        { actions = ["ses:SendEmail"], resources = ["{ses_identities}"] },
      ]
      leading_keys = ["B#*", "LINK#*", "RATE#*"]
    }

    "bookings" = {
      memory  = 256
      timeout = 10
      env = {
        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS = tostring(var.session_max_age_seconds)
      }
      secrets              = { SESSION_KEYS = "session_keys" }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"], resources = ["{table}"] },
        { actions = ["dynamodb:Query"], resources = ["{table}/index/by_email"] },
      ]
      # The by_email index (EMAIL#<address>) and the bookings it lists.
      leading_keys = ["B#*", "EMAIL#*"]
    }

    # Customer document list and presigned URLs, the operator regenerate route (docs/documents.md). Reads,
    # presigns and queues; never writes a document.
    "documents" = {
      memory  = 512
      timeout = 30
      env = {
        OPERATOR_AUTH           = "iam"
        OPERATOR_PRINCIPALS     = join(",", var.operator_principal_arns)
        DOCUMENTS_BUCKET        = aws_s3_bucket.portal["documents"].bucket
        DOCUMENTS_QUEUE_URL     = aws_sqs_queue.documents.url
        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS = tostring(var.session_max_age_seconds)
      }
      secrets              = { SESSION_KEYS = "session_keys" }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        { actions = ["dynamodb:Query", "dynamodb:GetItem"], resources = ["{table}"] },
        # Presigning signs with the function's credentials: the URL works only while the role may GetObject.
        { actions = ["s3:GetObject"], resources = ["{documents_bucket}/bookings/*"] },
        { actions = ["sqs:SendMessage"], resources = ["{queue:documents}"] },
      ]
      leading_keys = ["B#*"]
    }

    # Customer checkout: prices the payment from the ledger and creates it at the gateway (docs/payments.md).
    # Records no money: the webhook does.
    "checkout" = {
      memory  = 256
      timeout = 30
      env = {
        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS = tostring(var.session_max_age_seconds)
        GATEWAY_TIMEOUT_MS      = "8000"
        MIN_PAYMENT_JSON        = jsonencode(var.min_payment)
      }
      secrets = {
        SESSION_KEYS      = "session_keys"
        STRIPE_SECRET_KEY = "stripe_secret_key"
      }
      # Caps the calls we make to the gateway (its rate limits are per account) however many customers pay.
      reserved_concurrency = 50
      schedules            = {}
      http                 = true
      permissions = [
        # The idempotency claim (PutItem, DeleteItem on release) and the answer, intent and payment pointer in
        # one TransactWriteItems (IAM checks its parts: PutItem).
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
      ]
      # The booking collection, idempotency records, the per-booking payment lock, the gateway payment pointer.
      leading_keys = ["B#*", "IDEM#*", "PAYLOCK#*", "GWPAY#*"]
    }

    # The gateway's signed webhook: the only writer of payments, refunds and disputes; sends the receipt and
    # queues the document regeneration.
    "payment-webhooks" = {
      memory  = 256
      timeout = 30
      env = {
        EMAIL_SENDER        = var.brands["default"].sender
        BRANDS_JSON         = local.brands_json
        DOCUMENTS_QUEUE_URL = aws_sqs_queue.documents.url
        # A decline the webhook reports for an instalment charge: the retry plan (same policy as the runner)
        # and the pay-by-hand link in the email.
        PORTAL_URL         = var.portal_url
        RETRY_MAX_ATTEMPTS = tostring(var.instalment_retry.max_attempts)
        RETRY_BACKOFF      = var.instalment_retry.backoff
        GATEWAY_TIMEOUT_MS = "5000"
      }
      # The API key reads what Stripe's events name only by id (a charge's fee and card, a set-up card).
      secrets = {
        STRIPE_WEBHOOK_SECRET = "stripe_webhook_secret"
        STRIPE_SECRET_KEY     = "stripe_secret_key"
      }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        # Recording is one TransactWriteItems of Put (movements, outbox, intent, done marker) and Update (booking
        # version and aggregate); IAM checks each part.
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        { actions = ["sqs:SendMessage"], resources = ["{queue:documents}"] },
      ]
      # Bookings, outbox events, the event claim (WHEVT#), the gateway payment pointer (GWPAY#) and the mail
      # outbox's notices (NOTE#: receipts, declines) put in the recording transaction.
      leading_keys = ["B#*", "OUTBOX#*", "WHEVT#*", "GWPAY#*", "NOTE#*"]
    }

    # Consumes the documents queue (event source mapping in documents.tf) and renders PDFs into the bucket.
    "document-worker" = {
      memory  = 1024
      timeout = 60
      env = {
        DOCUMENTS_BUCKET = aws_s3_bucket.portal["documents"].bucket
        BRANDS_JSON      = local.brands_json
      }
      secrets              = {}
      reserved_concurrency = 10
      schedules            = {}
      http                 = false
      permissions = [
        { actions = ["dynamodb:Query", "dynamodb:PutItem"], resources = ["{table}"] },
        { actions = ["s3:PutObject"], resources = ["{documents_bucket}/bookings/*"] },
        # Brand logos (uploaded from each brand's logo_file) and the CJK fallback font (infra/documents.tf),
        # fetched on first use.
        { actions = ["s3:GetObject"], resources = ["{documents_bucket}/brands/*", "{documents_bucket}/fonts/*"] },
      ]
      # Bookings and the "new document" notices (NOTE#) put into the mail outbox with the document's record.
      leading_keys = ["B#*", "NOTE#*"]
    }

    # Scheduled payments, customer side: approve/withdraw instalments (ledger evidence + outbox in one
    # transaction) and start saving a card at the gateway (docs/scheduled-payments.md).
    "instalments" = {
      memory  = 256
      timeout = 30
      env = {
        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS = tostring(var.session_max_age_seconds)
        GATEWAY_TIMEOUT_MS      = "8000"
      }
      secrets = {
        SESSION_KEYS      = "session_keys"
        STRIPE_SECRET_KEY = "stripe_secret_key"
      }
      reserved_concurrency = 50
      schedules            = {}
      http                 = true
      permissions = [
        # The idempotency record read, then one TransactWriteItems of Update (booking version) and Put
        # (instalments, evidence movements, outbox events, the stored answer, card set-ups).
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources = ["{table}"] },
      ]
      # NOTE#: the mail outbox's notices, put in the same transaction as the change they tell about.
      leading_keys = ["B#*", "IDEM#*", "OUTBOX#*", "NOTE#*"]
    }

    # Charges approved instalments that are due, off-session, from the sparse due_instalments index; retries
    # declines on a back-off and emails the customer a pay-by-hand link (docs/scheduled-payments.md).
    "instalment-runner" = {
      memory  = 256
      timeout = 900
      env = {
        EMAIL_SENDER       = var.brands["default"].sender
        BRANDS_JSON        = local.brands_json
        PORTAL_URL         = var.portal_url
        GATEWAY_TIMEOUT_MS = "8000"
        RETRY_MAX_ATTEMPTS = tostring(var.instalment_retry.max_attempts)
        RETRY_BACKOFF      = var.instalment_retry.backoff
        RUN_BATCH          = "100"
      }
      secrets = { STRIPE_SECRET_KEY = "stripe_secret_key" }
      # Overlapping runs are safe (per-booking lease, version-conditional take, charge-id idempotency key);
      # one at a time keeps the gateway calls paced.
      reserved_concurrency = 1
      schedules            = { default = { expression = "rate(5 minutes)", input = jsonencode({}) } }
      http                 = false
      permissions = [
        { actions = ["dynamodb:Query"], resources = ["{table}/index/due_instalments"] },
        # Booking reads, the per-booking lease (PutItem/DeleteItem) and the state changes (TransactWriteItems of
        # Update and Put).
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
      ]
      # The due_instalments index (DUE; OWED is that index's partition of instalments not approved, which the
      # runner's instalment writes set), bookings, outbox events, the runner's lease (RUNLOCK#), the per-booking
      # payment lock (PAYLOCK#) and the mail outbox's notices (NOTE#).
      leading_keys = ["DUE", "OWED", "B#*", "OUTBOX#*", "RUNLOCK#*", "PAYLOCK#*", "NOTE#*"]
    }

    # Payments whose webhook never came: reads open intents older than RECONCILE_AFTER_SECONDS from the sparse
    # open_payments index, records what the gateway says through the webhook's exactly-once path, cancels
    # expired checkouts at the gateway and restarts excess refunds that did not start (docs/payments.md).
    "payment-reconciler" = {
      memory  = 256
      timeout = 300
      env = {
        EMAIL_SENDER            = var.brands["default"].sender
        BRANDS_JSON             = local.brands_json
        PORTAL_URL              = var.portal_url
        DOCUMENTS_QUEUE_URL     = aws_sqs_queue.documents.url
        GATEWAY_TIMEOUT_MS      = "8000"
        RECONCILE_AFTER_SECONDS = tostring(var.reconcile_after_seconds)
        RECONCILE_BATCH         = "200"
      }
      secrets              = { STRIPE_SECRET_KEY = "stripe_secret_key" }
      reserved_concurrency = 1
      schedules            = { default = { expression = "rate(10 minutes)", input = jsonencode({}) } }
      http                 = false
      permissions = [
        { actions = ["dynamodb:Query"], resources = ["{table}/index/open_payments"] },
        # Booking reads, the event claim, and the same one-transaction recording as the webhook function.
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        { actions = ["sqs:SendMessage"], resources = ["{queue:documents}"] },
      ]
      # The open_payments index (OPEN) and what the webhook's recording path touches, mail outbox notices too
      # (NOTE#; a new notice sits in open_payments' MAILQ partition until the relay takes it, so MAILQ as well).
      leading_keys = ["OPEN", "MAILQ", "B#*", "OUTBOX#*", "WHEVT#*", "GWPAY#*", "NOTE#*"]
    }

    "finance-exporter" = {
      memory  = 512
      timeout = 900
      env     = { EXPORT_BUCKET = aws_s3_bucket.portal["exports"].bucket }
      secrets = {}
      # One exporter at a time (the lease makes a second one a no-op anyway).
      reserved_concurrency = 1
      schedules            = { default = { expression = "rate(15 minutes)", input = jsonencode({ max_batches = 200 }) } }
      http                 = false
      permissions = [
        { actions = ["dynamodb:Query"], resources = ["{table}/index/unexported_events"] },
        { actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        { actions = ["s3:PutObject", "s3:DeleteObject"], resources = ["{exports_bucket}/exports/events/*"] },
      ]
      # The unexported_events index (UNEXPORTED; HELD is where held events move), the outbox events it returns,
      # the exporter's lease.
      leading_keys = ["UNEXPORTED", "HELD", "OUTBOX#*", "LEASE#finance-exporter"]
    }
    # Traveller details (docs/traveller-details.md): the customer's forms, history and erasure request; the
    # operator's full values, history, restore, event feed and erasure status. The sensitive part is sealed
    # under the details key (kms.tf), which only the traveller details functions' roles may use.
    "traveller-details" = {
      memory  = 512
      timeout = 30
      env = {
        OPERATOR_AUTH           = "iam"
        OPERATOR_PRINCIPALS     = join(",", var.operator_principal_arns)
        DETAILS_KMS_KEY_ID      = local.details_key_alias
        BRANDS_JSON             = local.brands_json
        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS = tostring(var.session_max_age_seconds)
      }
      secrets              = { SESSION_KEYS = "session_keys" }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        # The booking collection (details items included), versions, the profile; each change one
        # TransactWriteItems of Put (current details conditional on its version, version and event
        # attribute_not_exists, the profile).
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        # The operator's feed: gsi3pk = TRAVELLER_EVENTS.
        { actions = ["dynamodb:Query"], resources = ["{table}/index/unexported_events"] },
        { actions = ["kms:GenerateDataKey", "kms:Decrypt"], resources = ["{details_key}"] },
      ]
      # Bookings, details versions (DETAILS#), traveller events (TEVT#) and their feed (TRAVELLER_EVENTS),
      # profiles (PROFILE#<email hash>).
      leading_keys = ["B#*", "DETAILS#*", "TEVT#*", "TRAVELLER_EVENTS", "PROFILE#*"]
    }

    # "Download my data" (GET /bookings/{reference}/traveller-details/{traveller_id}/export): everything held
    # about one traveller, as JSON or a PDF. Apart from traveller-details so the PDF writer and its fonts stay
    # out of that function; reads through traveller-details' state, so the same environment and key.
    "details-export" = {
      # PDF rendering (the same renderer as the document-worker).
      memory  = 1024
      timeout = 30
      env = {
        OPERATOR_AUTH           = "iam"
        OPERATOR_PRINCIPALS     = join(",", var.operator_principal_arns)
        DETAILS_KMS_KEY_ID      = local.details_key_alias
        BRANDS_JSON             = local.brands_json
        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS = tostring(var.session_max_age_seconds)
        # The CJK fallback font (fonts/ only; the function reads no booking document).
        DOCUMENTS_BUCKET = aws_s3_bucket.portal["documents"].bucket
      }
      secrets              = { SESSION_KEYS = "session_keys" }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        # The booking collection (details items, sessions), the versions, the profile a form may offer.
        { actions = ["dynamodb:Query", "dynamodb:GetItem"], resources = ["{table}"] },
        # Reads only: it opens sealed values, never seals.
        { actions = ["kms:Decrypt"], resources = ["{details_key}"] },
        { actions = ["s3:GetObject"], resources = ["{documents_bucket}/fonts/*"] },
      ]
      leading_keys = ["B#*", "DETAILS#*", "PROFILE#*"]
    }

    # Daily: erases traveller details whose retention after travel has ended, from the sparse retention
    # entries of the due_instalments index (gsi2pk = DETAILS_ERASE), re-reading the booking first.
    "details-retention" = {
      memory  = 256
      timeout = 900
      env = {
        BRANDS_JSON = local.brands_json
      }
      secrets = {}
      # One run at a time (each erasure is version-conditional, so an overlap is safe but useless).
      reserved_concurrency = 1
      schedules            = { default = { expression = "cron(30 3 * * ? *)", input = jsonencode({}) } }
      http                 = false
      permissions = [
        { actions = ["dynamodb:Query"], resources = ["{table}/index/due_instalments"] },
        # The booking re-read, the erasure (TransactWriteItems of Put) and the deletion of the stored versions.
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], resources = ["{table}"] },
        # The details key, as the erasure path of traveller_details links it (an erasure itself leaves nothing sealed).
        { actions = ["kms:GenerateDataKey", "kms:Decrypt"], resources = ["{details_key}"] },
      ]
      # The retention entries (DETAILS_ERASE), bookings, versions, events, profiles.
      leading_keys = ["DETAILS_ERASE", "B#*", "DETAILS#*", "TEVT#*", "PROFILE#*"]
    }

    # Amendment requests and messages (docs/requests.md): the customer's requests, the booking's general thread
    # and communication preferences; the operator's replies, status changes and request event feed. Emails (to
    # the role's team addresses, to the customer) are sent after the commit: a failed send is logged
    # (`request email not sent`, alarmed in alarms.tf) and does not undo the change.
    "requests" = {
      memory  = 256
      timeout = 30
      env = {
        OPERATOR_AUTH       = "iam"
        OPERATOR_PRINCIPALS = join(",", var.operator_principal_arns)
        # The brands' names, colours and senders (From of every email) and their `requests` roles, routing and
        # operator_link (var.brands).
        BRANDS_JSON  = local.brands_json
        EMAIL_SENDER = var.brands["default"].sender
        # The link to the request in the customer's emails.
        PORTAL_URL              = var.portal_url
        SESSION_IDLE_SECONDS    = tostring(var.session_idle_seconds)
        SESSION_MAX_AGE_SECONDS = tostring(var.session_max_age_seconds)
        REQUEST_LIMITS          = jsonencode(var.request_limits)
      }
      secrets              = { SESSION_KEYS = "session_keys" }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        # The booking collection (booking, request heads REQ#, the general thread head THREAD#general, preferences
        # PREFS#) in the booking's one Query; a thread's messages (Query RQ#<REF>, begins_with M#<thread>#); the
        # idempotency marker. Each write is one TransactWriteItems of Put (request head, message, event, marker,
        # preferences) and Update (request head status, the daily cap counters: ADD with expires_at), each part
        # with its condition; IAM checks each part.
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources = ["{table}"] },
        # The operator's feed: gsi3pk = REQUEST_EVENTS.
        { actions = ["dynamodb:Query"], resources = ["{table}/index/unexported_events"] },
        # From the brand's sender (its SES identity); to the team addresses and the customer.
        { actions = ["ses:SendEmail"], resources = ["{ses_identities}"] },
      ]
      # Bookings (request and thread heads, preferences), messages and idempotency markers (RQ#), request events
      # (REVT#) and their feed (REQUEST_EVENTS), the daily caps per booking (CAPB#) and per customer (CAPC#<email
      # hash>), the mail outbox's notices to the customer (NOTE#).
      leading_keys = ["B#*", "RQ#*", "REVT#*", "REQUEST_EVENTS", "CAPB#*", "CAPC#*", "NOTE#*"]
    }

    # Customer notifications (issue 21; functions/notifications): every customer email but the sign-in link goes
    # through the mail outbox (NOTE#<REF>), which the writers above fill in the transaction of the change it
    # tells about. This function serves the one-click unsubscribe page and POST (RFC 8058: the token in the
    # email's link is the only credential, and can only turn emails off) and the operator's view of a booking's
    # emails and suppressed addresses.
    "notifications" = {
      memory  = 256
      timeout = 10
      env = {
        OPERATOR_AUTH       = "iam"
        OPERATOR_PRINCIPALS = join(",", var.operator_principal_arns)
        PORTAL_URL          = var.portal_url
        BRANDS_JSON         = local.brands_json
      }
      secrets              = { UNSUBSCRIBE_KEY = "unsubscribe_key" }
      reserved_concurrency = null
      schedules            = {}
      http                 = true
      permissions = [
        # The booking (Query B#<REF>), its notices and send records (Query NOTE#<REF>), a traveller's address
        # suppression (GetItem SUPPRESS#), the preference an unsubscribe turns off (UpdateItem).
        { actions = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"], resources = ["{table}"] },
      ]
      leading_keys = ["NOTE#*", "B#*", "SUPPRESS#*"]
    }

    # Consumes the mail queue (a booking's relayed notices) and the SES events queue (the configuration set's
    # bounces and complaints, raw from SNS), both in infra/notifications.tf. Claims a send record per notice and
    # recipient before it calls SES, so a redelivered message sends nothing twice; a send that may or may not
    # have happened is logged `notice email outcome unknown` and never retried (alarmed in alarms.tf).
    "notification-mailer" = {
      memory  = 256
      timeout = 60
      env = {
        PORTAL_URL            = var.portal_url
        BRANDS_JSON           = local.brands_json
        SES_CONFIGURATION_SET = aws_sesv2_configuration_set.portal.configuration_set_name
      }
      # The unsubscribe link (and List-Unsubscribe header) of optional emails.
      secrets = { UNSUBSCRIBE_KEY = "unsubscribe_key" }
      # Paces SES however many notices are queued; the two event source mappings share it (notifications.tf).
      reserved_concurrency = 5
      schedules            = {}
      http                 = false
      permissions = [
        # The notice (GetItem), the booking and preferences (Query), the send record claimed before SES (PutItem,
        # conditional) and its outcome (UpdateItem), the address's suppression (GetItem, PutItem/UpdateItem).
        { actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources = ["{table}"] },
        { actions = ["ses:SendEmail"], resources = ["{ses_identities}"] },
      ]
      # The consumer actions on both queues (what Lambda's poller needs; the code never calls SQS) are a policy
      # of their own in notifications.tf.
      leading_keys = ["NOTE#*", "B#*", "SUPPRESS#*"]
    }

    # The mail outbox's relay: every minute moves pending notices (the MAILQ partition of open_payments) to the
    # mail queue, holding a booking's updates for one digest; once a day plans instalment reminders (OWED: not
    # approved) and pre-charge notices (DUE: approved, per brand) from due_instalments, then relays.
    "notification-relay" = {
      memory  = 256
      timeout = 300
      env = {
        MAIL_QUEUE_URL          = aws_sqs_queue.mail.url
        BRANDS_JSON             = local.brands_json
        PORTAL_URL              = var.portal_url
        REMINDER_DAYS           = join(",", var.notifications.reminder_days)
        DIGEST_QUIET_SECONDS    = tostring(var.notifications.digest_quiet_seconds)
        DIGEST_MAX_HOLD_SECONDS = tostring(var.notifications.digest_max_hold_seconds)
      }
      # The relay renders no unsubscribe link, but the shared notifications::State::from_env requires the key.
      secrets = { UNSUBSCRIBE_KEY = "unsubscribe_key" }
      # One at a time: a relay run and the daily plan overlapping is safe (conditional index removal, derived
      # notice ids, the mailer's send records) but would only double the queue traffic.
      reserved_concurrency = 1
      schedules = {
        relay = { expression = "rate(1 minute)", input = jsonencode({ task = "relay" }) }
        plan  = { expression = "cron(0 7 * * ? *)", input = jsonencode({ task = "plan" }) }
      }
      http = false
      permissions = [
        { actions = ["dynamodb:Query"], resources = ["{table}/index/open_payments", "{table}/index/due_instalments", "{table}"] },
        # The planned notices (PutItem, must not exist), taking a relayed notice off the index (UpdateItem); the
        # booking and instalment reads are the Query above.
        { actions = ["dynamodb:PutItem", "dynamodb:UpdateItem"], resources = ["{table}"] },
        { actions = ["sqs:SendMessage"], resources = ["{queue:mail}"] },
      ]
      # The relay's index partition (MAILQ), the plan's (DUE: approved, OWED: not approved), the bookings they
      # name and their notices.
      leading_keys = ["MAILQ", "DUE", "OWED", "B#*", "NOTE#*"]
    }
  }

  brands_json = jsonencode({
    for id, b in var.brands : id => merge(
      { name = b.name, primary_colour = b.primary_colour, sender = b.sender, overpayment = b.overpayment },
      b.logo_url == null ? {} : { logo_url = b.logo_url },
      contains(keys(local.brand_logos), id) ? { logo_key = local.brand_logos[id].key } : {},
      # Amendment requests (docs/requests.md "Brand configuration"): only when set; a brand without it uses
      # default's, and with neither the function's built-in roles (no team email).
      b.requests == null ? {} : { requests = local.brand_requests[id] },
      # Customer notifications (functions/notifications): only a set before_charge_days (0 turns pre-charge
      # notices off even where default's would apply); a brand without it uses default's, and with neither none.
      contains(keys(local.brand_notifications), id) ? { notifications = local.brand_notifications[id] } : {},
    )
  })

  # var.brands[*].notifications as portal_mail::Brands reads it: only brands that set before_charge_days.
  brand_notifications = {
    for id, b in var.brands : id => { before_charge_days = b.notifications.before_charge_days }
    if try(b.notifications.before_charge_days, null) != null
  }

  # var.brands[*].requests as the requests function reads it: optional parts left out rather than null.
  brand_requests = {
    for id, b in var.brands : id => merge(
      {
        roles = {
          for role_id, r in b.requests.roles : role_id => merge(
            { name = r.name, addresses = r.addresses, general = r.general },
            r.deputy == null ? {} : { deputy = r.deputy },
          )
        }
      },
      length(b.requests.routing) == 0 ? {} : { routing = b.requests.routing },
      b.requests.operator_link == null ? {} : { operator_link = b.requests.operator_link },
    ) if b.requests != null
  }

  http_functions      = { for name, f in local.functions : name => f if f.http }
  scheduled_functions = { for name, f in local.functions : name => f if length(f.schedules) > 0 }
}
