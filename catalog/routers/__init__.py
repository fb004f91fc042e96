"""One APIRouter per resource of the Iceberg REST API."""
