"""Apple's Metal backend: absent in ember (CPU only)."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
