"""The SIEM: security events from every source in one normalized schema (`models`), their decoders
(`sources`), the correlation rules over sliding windows in Redis (`correlation`), and the store of
events and findings (`store`). See docs/siem.md."""
