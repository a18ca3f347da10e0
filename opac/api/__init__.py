"""The JSON API's shared pieces (OpenAPI document)."""
