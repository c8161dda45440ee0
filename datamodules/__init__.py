"""Training data: TrackSources (synthetic, LMDB-backed real datasets), the pair sampler and the datamodules."""
