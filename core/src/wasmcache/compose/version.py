"""The version of the components wasmcache generates, alone so that computing a compile-cache key
(every run does) imports none of the generators."""

# Bump this whenever the generated WAT changes: it is part of the compile cache's key.
ADAPTER_VERSION = "4"
