import a_module_that_does_not_exist  # noqa: F401


def handle(job: dict) -> None:
    return None
