"""Build hook for the optional C accelerator of the core (``core._kernels``).

Everything else about the package is in pyproject.toml. The extension is optional: where it
cannot be compiled (no C compiler), the install goes on without it and the core uses its
OpenCV code paths, which compute the same results (``core.colorspaces.lab``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "core._kernels",
            sources=["core/_kernels.c"],
            extra_compile_args=["-O3", "-fno-trapping-math", "-fno-math-errno"],
            optional=True,
        )
    ]
)
