
from datadiet._extras import require_installed

require_installed("transformers", "datasets", "yaml", extra="hf", purpose="datadiet.cli")
