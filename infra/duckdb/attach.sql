-- DuckDB 1.5 attached to the Commonlake REST catalog as `commonlake`. Replace the URI.
-- With auth on, create a secret first and use SECRET instead of AUTHORIZATION_TYPE:
--   CREATE SECRET commonlake_catalog (TYPE iceberg, CLIENT_ID '…', CLIENT_SECRET '…',
--     OAUTH2_SERVER_URI 'http://catalog.internal:8182/v1/oauth/tokens');
-- With an S3 warehouse, DuckDB reads the path-style and endpoint settings the catalog
-- returns; credentials come from a TYPE s3 secret.
INSTALL iceberg;
LOAD iceberg;
ATTACH 'commonlake' AS commonlake (
    TYPE iceberg,
    ENDPOINT 'http://catalog.internal:8182',
    AUTHORIZATION_TYPE 'none'
);
