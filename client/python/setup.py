"""The runbox Python client: standard library only, installs offline with
`pip install ./client/python`."""
from setuptools import setup

setup(
    name="runbox",
    version="0.1.0",
    description="Client for the runbox code execution service",
    packages=["runbox"],
    python_requires=">=3.9",
)
