# The portal table is built from shared/store/tables.json, the single definition the test harness and the
# local portal also read: keys, attributes, indexes and the TTL attribute cannot drift between code and AWS.

locals {
  table_defs = jsondecode(file("${path.module}/../shared/store/tables.json")).tables
  portal     = local.table_defs.portal
}

resource "aws_dynamodb_table" "portal" {
  name         = "tour-portal-${var.environment}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = local.portal.hash_key
  range_key    = local.portal.range_key

  deletion_protection_enabled = var.environment == "production"

  dynamic "attribute" {
    for_each = local.portal.attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.portal.global_secondary_indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = global_secondary_index.value.projection
    }
  }

  ttl {
    attribute_name = local.portal.ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.portal.arn
  }
}
