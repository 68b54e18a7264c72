"""The ETL room: the chain's logs (web3), the backend's tables and IP geolocation into intel.*.
Import its modules directly (shared.etl.pipeline, ...): this package loads nothing eagerly, so that
the rooms that need one of its pieces do not pay for web3."""
