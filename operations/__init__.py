"""Operations: table maintenance, the BigQuery mirror of the marts, and ``commonlake doctor``.

Each module does one job and takes what it needs (a PyIceberg table or catalog, a part of
the settings) as arguments; the CLI and the Dagster jobs call these functions.
"""
