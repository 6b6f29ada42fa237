# Secrets the functions need. Terraform creates them with a random first value (so one apply deploys a working
# stack) and then ignores their value: rotation puts a new version out of band (docs/deploy.md) and the next apply
# feeds it to the functions. Gateway keys are created and rotated with the gateway account and passed in as ARNs
# (var.gateway_secret_arns).
#
# Delivery: a function's environment holds only <NAME>_SECRET_ARN for each secret of its entry in functions.tf;
# the function reads the current value (AWSCURRENT) once at cold start (shared/secrets) with
# secretsmanager:GetSecretValue on exactly those ARNs (iam.tf). Values are never in the Lambda environment; the
# state holds only the first, random value (put a new version after the first apply to retire it, docs/deploy.md);
# a rotated value reaches each function at its next cold start.

resource "aws_secretsmanager_secret" "session_keys" {
  # checkov:skip=CKV2_AWS_57:Session signing keys rotate by adding a kid (SESSION_KEYS holds several); a rotation Lambda is not built yet.
  name        = "${local.prefix}/session-keys"
  description = "SESSION_KEYS: kid:base64url-secret[,kid:secret...], each secret at least 32 bytes; first is the signing key."
  kms_key_id  = aws_kms_key.portal.arn
}

resource "aws_secretsmanager_secret" "token_hash_key" {
  # checkov:skip=CKV2_AWS_57:Rotating the token hash key invalidates links in flight (15 min at most); done by hand, see docs/deploy.md.
  name        = "${local.prefix}/token-hash-key"
  description = "TOKEN_HASH_KEY: the key of the magic-link token hash (base64url, at least 32 bytes)."
  kms_key_id  = aws_kms_key.portal.arn
}

resource "aws_secretsmanager_secret" "unsubscribe_key" {
  # checkov:skip=CKV2_AWS_57:One-click unsubscribe tokens never expire (a mail client may POST one years later): rotating the key breaks the unsubscribe link of every email already sent, so it is not rotated on a timer.
  name        = "${local.prefix}/unsubscribe-key"
  description = "UNSUBSCRIBE_KEY: the MAC key of one-click unsubscribe tokens in customer emails (base64url, at least 32 bytes); notifications and notification-mailer."
  kms_key_id  = aws_kms_key.portal.arn
}

resource "random_bytes" "session_key" {
  length = 32
}

resource "random_bytes" "token_hash_key" {
  length = 32
}

resource "random_bytes" "unsubscribe_key" {
  length = 32
}

locals {
  # base64url without padding, the encoding SESSION_KEYS and TOKEN_HASH_KEY use.
  initial_session_key    = replace(replace(trimsuffix(trimsuffix(random_bytes.session_key.base64, "="), "="), "+", "-"), "/", "_")
  initial_token_hash_key = replace(replace(trimsuffix(trimsuffix(random_bytes.token_hash_key.base64, "="), "="), "+", "-"), "/", "_")
  # UNSUBSCRIBE_KEY is used as its text (43 characters here): at least 32 of them, as the functions require.
  initial_unsubscribe_key = replace(replace(trimsuffix(trimsuffix(random_bytes.unsubscribe_key.base64, "="), "="), "+", "-"), "/", "_")
}

resource "aws_secretsmanager_secret_version" "session_keys" {
  secret_id     = aws_secretsmanager_secret.session_keys.id
  secret_string = "k1:${local.initial_session_key}"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret_version" "token_hash_key" {
  secret_id     = aws_secretsmanager_secret.token_hash_key.id
  secret_string = local.initial_token_hash_key

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret_version" "unsubscribe_key" {
  secret_id     = aws_secretsmanager_secret.unsubscribe_key.id
  secret_string = local.initial_unsubscribe_key

  lifecycle {
    ignore_changes = [secret_string]
  }
}

locals {
  secret_arns = merge(var.gateway_secret_arns, {
    session_keys    = aws_secretsmanager_secret.session_keys.arn
    token_hash_key  = aws_secretsmanager_secret.token_hash_key.arn
    unsubscribe_key = aws_secretsmanager_secret.unsubscribe_key.arn
  })
}
