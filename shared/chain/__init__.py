"""The ticket contract on an EVM: artifact loading, deployment, and log sources for the ETL."""
