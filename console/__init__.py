"""The doors into every room: the CLI, the demo, config.

Arrow's default allocator (mimalloc) asks for transparent huge pages; where the kernel compacts
memory on those faults, parsing a large export spends seconds in the kernel per GB. jemalloc does
not, so the command picks it unless the user chose one. It must be set before pyarrow loads.
"""

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
