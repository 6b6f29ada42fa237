# Copy to <environment>.tfvars and edit. Secrets are not here: see docs/deploy.md "Secrets".
region      = "eu-west-2"
environment = "staging"
portal_url  = "https://portal.example-tours.com"

# One origin (docs/deploy.md "One origin (CloudFront)"): certificates issued and validated outside Terraform.
cloudfront_certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
api_origin_domain          = "api-origin.portal.example-tours.com"
api_origin_certificate_arn = "arn:aws:acm:eu-west-2:123456789012:certificate/66666666-7777-8888-9999-000000000000"
cloudfront_price_class     = "PriceClass_100"
waf_rate_limits            = { magic_links = 100, sessions = 300, per_ip = 3000 }

brands = {
  default = {
    name           = "Example Tours"
    primary_colour = "#1f4e79"
    sender         = "bookings@example-tours.com"
    domain         = "example-tours.com"
    logo_url       = "https://www.example-tours.com/logo.png"
    support_email  = "help@example-tours.com"
    support_phone  = "+44 20 7946 0000"
    # Drawn on the documents: a PNG or JPEG of at most 512 KiB on the deploying machine (relative to infra/).
    # logo_file = "logos/example-tours.png"
    # Amendment requests and messages (docs/requests.md): who customers write to. Brands without their own
    # `requests` (alpine below) use these. While SES is in the sandbox every address here must be a verified
    # identity (docs/deploy.md, "Amendment requests").
    requests = {
      roles = {
        reservations = {
          name      = { "en-GB" = "Reservations team", "de-DE" = "Reservierungsteam", "fr-FR" = "Service réservations" }
          addresses = ["reservations@example-tours.com"]
        }
        accounts = {
          name      = { "en-GB" = "Accounts team", "de-DE" = "Buchhaltung", "fr-FR" = "Service comptabilité" }
          addresses = ["accounts@example-tours.com"]
        }
        tour_leader = {
          name      = { "en-GB" = "Your tour leader", "de-DE" = "Ihre Reiseleitung", "fr-FR" = "Votre accompagnateur" }
          addresses = ["leaders@example-tours.com"]
          # The leaders' mailbox is covered over the winter season break.
          deputy = { address = "leaders-cover@example-tours.com", from = "2026-12-20", until = "2027-01-03" }
        }
      }
      # Unlisted types (service_change, add_traveller, remove_traveller, date_change, other) go to reservations.
      routing = {
        cancellation       = "reservations"
        special_assistance = "tour_leader"
      }
      # Team emails link to the request in the back office.
      operator_link = "https://backoffice.example-tours.com/bookings/{reference}/requests/{request_id}"
    }
  }
  alpine = {
    name           = "Alpine Escapes"
    primary_colour = "#2e7d32"
    sender         = "hello@alpine-escapes.com"
    domain         = "alpine-escapes.com"
    # Customer emails (functions/notifications): tell travellers 3 days before an approved instalment is charged.
    # Brands without it use default's (none here): no pre-charge emails.
    notifications = { before_charge_days = 3 }
  }
}

# ARNs of the payment gateway's secrets (created with the gateway account): the Stripe API key and webhook signing secret.
gateway_secret_arns = {
  stripe_secret_key     = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:portal/stripe-secret-key-AbCdEf"
  stripe_webhook_secret = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:portal/stripe-webhook-secret-AbCdEf"
}

# Public Stripe keys for the web app's /config.json, per brand (one Stripe account: the same key for each).
stripe_publishable_keys = {
  default = "pk_test_51ExampleExampleExample"
  alpine  = "pk_test_51ExampleExampleExample"
}

magic_link_ttl_seconds  = 600
session_idle_seconds    = 1800
session_max_age_seconds = 43200

# Amendment requests and customer messages per UTC day (docs/requests.md "Caps"); these are the defaults.
request_limits = { requests_per_booking = 10, requests_per_customer = 15, messages_per_booking = 40, messages_per_customer = 60 }

# Customer emails (notification-relay): reminders 14 and 3 days before an instalment not yet approved falls due; a
# booking's updates go as one digest once the operator has stopped pushing for 10 minutes (an hour at most).
# These are the defaults.
notifications = { reminder_days = [14, 3], digest_quiet_seconds = 600, digest_max_hold_seconds = 3600 }

# Who may call the operator routes (SigV4): a role admits every session of it; anyone else gets 403.
operator_principal_arns = [
  "arn:aws:iam::123456789012:role/tour-operator-sync",
  "arn:aws:iam::123456789012:user/ops-console",
]

lambda_artifacts_dir = "../target/lambda"
log_retention_days   = 400
api_throttle         = { rate_limit = 50, burst_limit = 100 }
alarm_email          = "ops@example-tours.com"
