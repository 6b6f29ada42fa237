variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "eu-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-2."
  }
}

variable "environment" {
  description = "Deployment name (dev, staging, production); production turns on deletion protection."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.environment))
    error_message = "environment is 2-20 characters of a-z, 0-9 and '-'."
  }
}

variable "brands" {
  description = "Brands the portal sends mail as, keyed by brand id (a booking's brand); `default` is required and used for bookings without a known brand. Each: display name, primary colour (#rrggbb), sender address, the SES domain the sender belongs to, optional https logo URL (emails and the web app), optional support email and phone (the web app), optional logo file (documents: a PNG or JPEG of at most 512 KiB on the deploying machine, uploaded to the documents bucket), optional `requests` (amendment requests: roles with localized names and team addresses, routing, operator link; docs/requests.md), optional `notifications` (customer emails: before_charge_days, the pre-charge notice of approved instalments)."
  type = map(object({
    name           = string
    primary_colour = string
    sender         = string
    domain         = string
    logo_url       = optional(string)
    logo_file      = optional(string)
    # Shown by the web app (/config.json) for travellers who need help.
    support_email = optional(string)
    support_phone = optional(string)
    # Money received beyond a booking's price (or after its cancellation): "refund" it automatically, or keep
    # it as "credit" for the operator to settle.
    overpayment = optional(string, "refund")
    # Amendment requests and messages (docs/requests.md "Brand configuration"): the roles customers write to,
    # which role gets each request type, and an optional link into the operator's own system for team emails.
    # Left out: the brand uses default's; with neither, the built-in roles without addresses (no team email).
    requests = optional(object({
      # Role id (a-z0-9_, 1-40) => role. `name` per locale (en-GB is the fallback, then any): what the customer
      # sees, never an address. `addresses` (1-5) receive the team emails; `deputy` receives them instead between
      # `from` and `until` (YYYY-MM-DD, inclusive). `general`: offered in the booking's general thread.
      roles = map(object({
        name      = map(string)
        addresses = list(string)
        deputy = optional(object({
          address = string
          from    = string
          until   = string
        }))
        general = optional(bool, true)
      }))
      # Request type => role id; unlisted types go to `reservations`, else the first role alphabetically.
      routing = optional(map(string), {})
      # https URL with {reference} and {request_id} placeholders, put in team emails.
      operator_link = optional(string)
    }))
    # Customer notifications (functions/notifications): `before_charge_days` (0-14) days before an approved
    # instalment is charged, the customer is told. Left out: the brand uses default's; with neither (or 0), no
    # pre-charge emails.
    notifications = optional(object({
      before_charge_days = optional(number)
    }))
  }))

  validation {
    condition     = alltrue([for b in values(var.brands) : contains(["refund", "credit"], b.overpayment)])
    error_message = "each brand's overpayment is \"refund\" or \"credit\"."
  }
  validation {
    condition     = contains(keys(var.brands), "default")
    error_message = "brands must contain a `default` brand."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : can(regex("^#[0-9a-fA-F]{6}$", b.primary_colour))])
    error_message = "each brand's primary_colour is #rrggbb."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : length(b.name) > 0 && length(b.name) <= 80])
    error_message = "each brand's name is 1-80 characters."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : endswith(lower(b.sender), "@${lower(b.domain)}")])
    error_message = "each brand's sender must be an address at that brand's domain (the SES identity)."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : b.logo_url == null || startswith(coalesce(b.logo_url, "-"), "https://")])
    error_message = "logo_url must be an https:// URL."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : b.support_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(b.support_email, "-")))])
    error_message = "support_email must be an email address."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : b.support_phone == null || can(regex("^\\+?[0-9 ()-]{6,24}$", coalesce(b.support_phone, "-")))])
    error_message = "support_phone is 6-24 characters of digits, spaces, ( ) and -, optionally starting with +."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : b.logo_file == null || can(regex("\\.(png|jpe?g)$", lower(coalesce(b.logo_file, "-"))))])
    error_message = "logo_file must be a .png, .jpg or .jpeg file."
  }
  validation {
    # The document worker refuses logos over 512 KiB (base64: 4/3 of the bytes).
    condition     = alltrue([for b in values(var.brands) : b.logo_file == null ? true : (fileexists(b.logo_file) ? length(filebase64(b.logo_file)) <= 699052 : false)])
    error_message = "logo_file must be an existing file of at most 512 KiB."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : b.requests == null ? true : length(b.requests.roles) >= 1])
    error_message = "a brand's requests needs at least one role."
  }
  validation {
    condition     = alltrue(flatten([for b in values(var.brands) : b.requests == null ? [] : [for id in keys(b.requests.roles) : can(regex("^[a-z0-9_]{1,40}$", id))]]))
    error_message = "requests role ids are 1-40 characters of a-z, 0-9 and _."
  }
  validation {
    condition = alltrue(flatten([for b in values(var.brands) : b.requests == null ? [] : [
      for r in values(b.requests.roles) : length(r.name) >= 1 && alltrue([
        for locale, n in r.name : contains(["en-GB", "en-US", "de-DE", "fr-FR", "nl-NL", "ja-JP"], locale) && length(trimspace(n)) >= 1 && length(n) <= 60 && !can(regex("[[:cntrl:]]", n))
      ])
    ]]))
    error_message = "each requests role has a name per portal locale (en-GB, en-US, de-DE, fr-FR, nl-NL, ja-JP; e.g. { \"en-GB\" = \"Reservations team\" }), each 1-60 characters on one line."
  }
  validation {
    condition = alltrue(flatten([for b in values(var.brands) : b.requests == null ? [] : [
      for r in values(b.requests.roles) : length(r.addresses) >= 1 && length(r.addresses) <= 5 && length(distinct([for a in r.addresses : lower(a)])) == length(r.addresses) && alltrue([
        for a in r.addresses : (length(a) <= 254 && can(regex("^[!-~]+$", a)) && can(regex("^[^@<>,\"]+@[^.@<>,\"][^@<>,\"]*\\.[^@<>,\"]*[^.@<>,\"]$", a)))
      ])
    ]]))
    error_message = "each requests role has 1-5 distinct email addresses."
  }
  validation {
    condition = alltrue(flatten([for b in values(var.brands) : b.requests == null ? [] : [
      for r in values(b.requests.roles) : r.deputy == null ? true : (
        (length(r.deputy.address) <= 254 && can(regex("^[!-~]+$", r.deputy.address)) && can(regex("^[^@<>,\"]+@[^.@<>,\"][^@<>,\"]*\\.[^@<>,\"]*[^.@<>,\"]$", r.deputy.address)))
        && can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", r.deputy.from)) && can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", r.deputy.until))
        && try(timecmp("${r.deputy.from}T00:00:00Z", "${r.deputy.until}T00:00:00Z") <= 0, false)
      )
    ]]))
    error_message = "a requests role's deputy has an email address and a window from <= until (YYYY-MM-DD dates)."
  }
  validation {
    condition = alltrue(flatten([for b in values(var.brands) : b.requests == null ? [] : [
      for kind, role in b.requests.routing : contains(["service_change", "add_traveller", "remove_traveller", "date_change", "cancellation", "special_assistance", "other"], kind) && contains(keys(b.requests.roles), role)
    ]]))
    error_message = "requests routing maps a request type (service_change, add_traveller, remove_traveller, date_change, cancellation, special_assistance, other) to a role id of the same brand's roles."
  }
  validation {
    condition     = alltrue([for b in values(var.brands) : b.requests == null ? true : (b.requests.operator_link == null ? true : can(regex("^https://[^\\s]+$", b.requests.operator_link)))])
    error_message = "requests operator_link is an https:// URL (placeholders {reference} and {request_id})."
  }
  validation {
    condition     = alltrue([for d in [for b in values(var.brands) : b.notifications.before_charge_days if try(b.notifications.before_charge_days, null) != null] : d >= 0 && d <= 14 && floor(d) == d])
    error_message = "a brand's notifications.before_charge_days is a whole number of days 0-14 (0: no pre-charge emails)."
  }
  validation {
    # A brand id with a logo becomes part of an S3 key (brands/<id>/logo.<ext>).
    condition     = alltrue([for id, b in var.brands : b.logo_file == null || can(regex("^[A-Za-z0-9_-]{1,64}$", id))])
    error_message = "a brand with a logo_file needs an id of 1-64 characters of A-Za-z0-9_-."
  }
}

variable "portal_url" {
  description = "The customer portal's origin (https, no port, no trailing slash): the CloudFront distribution's alias (web app and API on one origin, web.tf) and where sign-in links point ({portal_url}/sign-in#token=...)."
  type        = string

  validation {
    condition     = can(regex("^https://[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.portal_url))
    error_message = "portal_url is an https origin such as https://portal.example.com (no port, path or trailing slash: it is CloudFront's alias)."
  }
}

variable "cloudfront_certificate_arn" {
  description = "ACM certificate for portal_url's host, in us-east-1 (CloudFront only uses certificates there); issued and validated outside Terraform."
  type        = string

  validation {
    condition     = can(regex("^arn:aws:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.cloudfront_certificate_arn))
    error_message = "cloudfront_certificate_arn must be an ACM certificate ARN in us-east-1 (arn:aws:acm:us-east-1:<account>:certificate/<uuid>)."
  }
}

variable "api_origin_domain" {
  description = "Host name of the HTTP API's regional custom domain (e.g. api-origin.portal.example.com): CloudFront's API origin and the host operators sign SigV4 requests for. Its DNS record is the operator's (output api_origin_target)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.api_origin_domain))
    error_message = "api_origin_domain is a lower-case host name such as api-origin.portal.example.com."
  }
}

variable "api_origin_certificate_arn" {
  description = "ACM certificate for api_origin_domain in var.region (a regional API Gateway custom domain); issued and validated outside Terraform."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:certificate/[0-9a-f-]{36}$", var.api_origin_certificate_arn))
    error_message = "api_origin_certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>), in var.region."
  }
}

variable "stripe_publishable_keys" {
  description = "Stripe publishable key per brand id (public: written to the web app's /config.json as stripe_publishable_key); brands without one get none. Usually the same key for every brand of one Stripe account."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in values(var.stripe_publishable_keys) : can(regex("^pk_(test|live)_[A-Za-z0-9]+$", k))])
    error_message = "stripe_publishable_keys values are Stripe publishable keys (pk_test_... or pk_live_...), never secret keys."
  }
}

variable "cloudfront_price_class" {
  description = "CloudFront price class (edge locations used): PriceClass_100 (Europe, North America), PriceClass_200 or PriceClass_All."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class is PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "waf_rate_limits" {
  description = "WAF per-IP rate limits, requests per 5 minutes from one address: POST /auth/magic-links, POST /auth/sessions, and every request to the portal. Past a limit the address gets 429 problem+json until its rate drops."
  type = object({
    magic_links = optional(number, 100)
    sessions    = optional(number, 300)
    per_ip      = optional(number, 3000)
  })
  default = {}

  validation {
    condition     = alltrue([for v in values(var.waf_rate_limits) : v >= 100 && v <= 2000000000 && floor(v) == v])
    error_message = "waf_rate_limits are whole numbers of at least 100 (requests per 5 minutes per IP)."
  }
}

variable "gateway_secret_arns" {
  description = "Secrets Manager ARNs of the payment gateway's keys (API key, webhook signing secret), keyed by name; created and rotated outside Terraform. Functions that need one list it in infra/functions.tf."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for a in values(var.gateway_secret_arns) : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", a))])
    error_message = "gateway_secret_arns values must be Secrets Manager secret ARNs."
  }

  validation {
    condition     = alltrue([for k in ["stripe_secret_key", "stripe_webhook_secret"] : contains(keys(var.gateway_secret_arns), k)])
    error_message = "gateway_secret_arns needs stripe_secret_key (checkout, STRIPE_SECRET_KEY) and stripe_webhook_secret (payment-webhooks, STRIPE_WEBHOOK_SECRET)."
  }
}

variable "min_payment" {
  description = "Smallest amount a customer may pay in one checkout, per ISO 4217 currency, as a decimal string (MIN_PAYMENT_JSON). Unlisted currencies: one major unit."
  type        = map(string)
  default     = { GBP = "1.00", EUR = "1.00", USD = "1.00", JPY = "100" }

  validation {
    condition     = alltrue([for c, a in var.min_payment : can(regex("^[A-Z]{3}$", c)) && can(regex("^[0-9]+(\\.[0-9]{1,3})?$", a))])
    error_message = "min_payment maps a currency code (e.g. GBP) to a positive decimal string (e.g. \"1.00\")."
  }
}

variable "magic_link_ttl_seconds" {
  description = "Lifetime of an emailed sign-in link and its code (MAGIC_LINK_TTL_SECONDS), 60-900 seconds; default 10 minutes (ASVS 5.0 V6.5)."
  type        = number
  default     = 600

  validation {
    condition     = var.magic_link_ttl_seconds >= 60 && var.magic_link_ttl_seconds <= 900
    error_message = "magic_link_ttl_seconds is 60-900."
  }
}

variable "session_idle_seconds" {
  description = "A customer session ends after this much inactivity (SESSION_IDLE_SECONDS), 60-86400 seconds."
  type        = number
  default     = 1800

  validation {
    condition     = var.session_idle_seconds >= 60 && var.session_idle_seconds <= 86400
    error_message = "session_idle_seconds is 60-86400."
  }
}

variable "session_max_age_seconds" {
  description = "Absolute lifetime of a customer session (SESSION_MAX_AGE_SECONDS), 300 seconds to 30 days."
  type        = number
  default     = 43200

  validation {
    condition     = var.session_max_age_seconds >= 300 && var.session_max_age_seconds <= 2592000
    error_message = "session_max_age_seconds is 300-2592000."
  }
}

variable "lambda_artifacts_dir" {
  description = "Directory holding <function>/bootstrap.zip as built by `cargo lambda build --release --arm64 --output-format zip` (relative paths are from infra/)."
  type        = string
  default     = "../target/lambda"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for function and API access logs."
  type        = number
  default     = 400

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365, 400)."
  }
}

variable "api_throttle" {
  description = "API Gateway default route throttling: steady requests per second and burst."
  type = object({
    rate_limit  = number
    burst_limit = number
  })
  default = { rate_limit = 50, burst_limit = 100 }

  validation {
    condition     = var.api_throttle.rate_limit > 0 && var.api_throttle.burst_limit > 0
    error_message = "api_throttle limits are positive."
  }
}

variable "alarm_email" {
  description = "Optional address subscribed to the alarms topic (confirm the subscription email); empty for none."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email is an email address or empty."
  }
}

variable "reconcile_after_seconds" {
  description = "How old an open payment (or an excess refund that did not start) must be before the payment reconciler reads it from the gateway (RECONCILE_AFTER_SECONDS): longer than a webhook normally takes, shorter than a customer would wait for a receipt."
  type        = number
  default     = 900

  validation {
    condition     = var.reconcile_after_seconds >= 60 && var.reconcile_after_seconds <= 86400
    error_message = "reconcile_after_seconds is 60-86400."
  }
}

variable "instalment_retry" {
  description = "Declined off-session instalment charges: attempts in all (RETRY_MAX_ATTEMPTS) and the waits between them (RETRY_BACKOFF, e.g. \"2d,3d\": again after 2 days, then 3 more), for the runner and the webhook alike."
  type = object({
    max_attempts = number
    backoff      = string
  })
  default = { max_attempts = 3, backoff = "2d,3d" }

  validation {
    condition     = var.instalment_retry.max_attempts >= 1 && var.instalment_retry.max_attempts <= 10 && can(regex("^([0-9]+[dhm])(,[0-9]+[dhm])*$", var.instalment_retry.backoff))
    error_message = "instalment_retry: max_attempts 1-10; backoff a comma-separated list of waits like 2d,3d (d, h or m)."
  }
}

variable "sign_in_emails_per_day" {
  description = "Sign-in emails sent to one address per UTC day at most (RATE_EMAIL_PER_DAY, sign-in-mailer); requests past it are answered the same and send nothing."
  type        = number
  default     = 10

  validation {
    condition     = var.sign_in_emails_per_day >= 1 && var.sign_in_emails_per_day <= 100
    error_message = "sign_in_emails_per_day is 1-100."
  }
}

variable "code_failures_per_booking_per_day" {
  description = "Wrong sign-in codes accepted per booking per UTC day (RATE_CODE_FAILURES_PER_DAY, auth); past it, codes for that booking are refused until the next day (links keep working)."
  type        = number
  default     = 20

  validation {
    condition     = var.code_failures_per_booking_per_day >= 1 && var.code_failures_per_booking_per_day <= 1000
    error_message = "code_failures_per_booking_per_day is 1-1000."
  }
}

variable "request_limits" {
  description = "Amendment requests and messages per UTC day (REQUEST_LIMITS, requests function; docs/requests.md \"Caps\"): new requests per booking and per customer (verified email, across bookings), customer messages per booking and per customer. Past a cap the write is refused with 429 and writes nothing; operator messages are not capped."
  type = object({
    requests_per_booking  = optional(number, 10)
    requests_per_customer = optional(number, 15)
    messages_per_booking  = optional(number, 40)
    messages_per_customer = optional(number, 60)
  })
  default = {}

  validation {
    condition     = alltrue([for v in values(var.request_limits) : v >= 1 && v <= 1000 && floor(v) == v])
    error_message = "request_limits are whole numbers 1-1000."
  }
}

variable "operator_principal_arns" {
  description = "IAM principals allowed on operator routes (OPERATOR_PRINCIPALS): roles (any session of the role), users, or one assumed-role session; any other SigV4 caller gets 403."
  type        = list(string)

  validation {
    condition     = length(var.operator_principal_arns) > 0
    error_message = "operator_principal_arns needs at least one IAM principal ARN."
  }
  validation {
    # What portal_http::operator accepts: no wildcard or space, an assumed-role ARN is role-name/session-name.
    condition     = alltrue([for p in var.operator_principal_arns : can(regex("^arn:aws:(iam::[0-9]{12}:(role|user)/.+|sts::[0-9]{12}:assumed-role/[^/]+/[^/]+)$", p)) && !can(regex("[*?\\s]", p))])
    error_message = "each operator_principal_arns entry is arn:aws:iam::<12 digits>:role/<name>, arn:aws:iam::<12 digits>:user/<name> or arn:aws:sts::<12 digits>:assumed-role/<role>/<session>, without wildcards or spaces."
  }
}

variable "returned_links_alarm_threshold" {
  description = "Alarm when operators had this many sign-in links returned in the API response (not emailed) within one hour (OperatorLinksReturned)."
  type        = number
  default     = 20

  validation {
    condition     = var.returned_links_alarm_threshold >= 1
    error_message = "returned_links_alarm_threshold is at least 1."
  }
}

variable "notifications" {
  description = "Customer notifications (notification-relay): reminder_days (REMINDER_DAYS), days before an instalment not yet approved falls due that the customer is reminded (1-4 values, each 1-60); digest_quiet_seconds (DIGEST_QUIET_SECONDS, 60-86400), how long a booking's updates wait for the operator to stop pushing before they go as one digest email; digest_max_hold_seconds (DIGEST_MAX_HOLD_SECONDS, at least the quiet time, at most 7 days), the longest the oldest of them waits."
  type = object({
    reminder_days           = optional(list(number), [14, 3])
    digest_quiet_seconds    = optional(number, 600)
    digest_max_hold_seconds = optional(number, 3600)
  })
  default = {}

  validation {
    condition     = length(var.notifications.reminder_days) >= 1 && length(var.notifications.reminder_days) <= 4 && alltrue([for d in var.notifications.reminder_days : d >= 1 && d <= 60 && floor(d) == d])
    error_message = "notifications.reminder_days has 1 to 4 whole numbers of days, each 1-60 (e.g. [14, 3])."
  }
  validation {
    condition     = var.notifications.digest_quiet_seconds >= 60 && var.notifications.digest_quiet_seconds <= 86400 && floor(var.notifications.digest_quiet_seconds) == var.notifications.digest_quiet_seconds
    error_message = "notifications.digest_quiet_seconds is a whole number 60-86400."
  }
  validation {
    condition     = var.notifications.digest_max_hold_seconds >= var.notifications.digest_quiet_seconds && var.notifications.digest_max_hold_seconds <= 604800 && floor(var.notifications.digest_max_hold_seconds) == var.notifications.digest_max_hold_seconds
    error_message = "notifications.digest_max_hold_seconds is a whole number of at least digest_quiet_seconds and at most 604800 (7 days)."
  }
}
