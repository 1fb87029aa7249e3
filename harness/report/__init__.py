"""Renderers: a result in, text or pages out, written to a stream they are given."""
