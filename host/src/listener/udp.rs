//! UDP listener: one socket per worker (SO_REUSEPORT); hits answered inline, misses on spawned tasks.
