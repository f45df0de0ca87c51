"""One module per resource family; each exposes an APIRouter named ``router``."""
