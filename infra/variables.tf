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
