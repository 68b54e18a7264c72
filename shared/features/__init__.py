"""The ten model features: definitions, batch computation, real-time updates, training sets."""
