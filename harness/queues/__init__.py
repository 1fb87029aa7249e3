"""Soak workers inside real job queues (Celery, RQ): hooks that measure tasks in the
framework's own worker processes, and the channel that brings the samples home."""
