"""The names a run checks a guest's imports against, alone so that checking them (every
``wasmcache run`` does) builds no wire table."""

CACHE_INTERFACE = "wasmcache:cache/cache@0.1.0"

#: Every interface private to wasmcache's adapters lives in this package; a guest that imports
#: one itself is refused at load (`wasmcache.compose.nest.refuse_private_imports`).
PRIVATE_PACKAGE = "wasmcache:fastpath/"
