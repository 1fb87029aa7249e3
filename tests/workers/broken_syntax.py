def handle(job)
    return job
