#!/usr/bin/env python3
"""The layer check: every #include in a library folder must name a header of that library
or of one it links (directly or through its DEPS), as its CMakeLists.txt declares. So the
link graph, not a comment, says which way dependencies run: an include that runs upward
(nat/ including api/, transport/ including device/) fails here, in CI. Likewise spdlog's
headers only where the library itself names spdlog::spdlog: the layers the static guest
agent links (vsock/transport, vsock/forwarder) log through netstack/base/log.hpp.

    tests/layering_check.py [SOURCE_DIR]     # exit 1 and one line per violation
"""
import os
import re
import sys

MODULES = ("netstack", "vsock", "dhcp", "dns", "hypervisor")
LIBRARY = re.compile(r"usernet_library\(\s*(\w+)(?:\s+DEPS\s+([^)]*))?\)", re.S)
AGGREGATE = re.compile(r"target_link_libraries\(\s*(\w+)\s+INTERFACE\s+([^)]*)\)", re.S)
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SPDLOG_INCLUDE = re.compile(r'^\s*#\s*include\s+<spdlog/', re.M)
SOURCE = (".cpp", ".hpp", ".h", ".c")


def read_libraries(root):
    """folder -> library name, and library -> every target its DEPS name."""
    folder_library, deps = {}, {}
    for module in MODULES:
        for folder, _, files in os.walk(os.path.join(root, module)):
            if "CMakeLists.txt" not in files:
                continue
            text = open(os.path.join(folder, "CMakeLists.txt")).read()
            for name, dep_text in LIBRARY.findall(text):
                folder_library[os.path.relpath(folder, root)] = name
                deps[name] = set((dep_text or "").split())
            for name, dep_text in AGGREGATE.findall(text):
                deps[name] = set(dep_text.split())
    return folder_library, deps


def closure(library, deps):
    """Every usernet library `library` links, itself included."""
    seen, todo = set(), [library]
    while todo:
        lib = todo.pop()
        if lib not in seen:
            seen.add(lib)
            todo.extend(deps.get(lib, ()))
    return seen


def owner(path, folder_library):
    """The library whose folder holds `path` (the deepest folder with a library)."""
    folder = os.path.dirname(path)
    while folder and folder not in folder_library:
        folder = os.path.dirname(folder)
    return folder_library.get(folder)


def violations(files, folder_library, deps):
    """files: path -> text. One message per include that leaves its library's closure."""
    out = []
    closures = {library: closure(library, deps) for library in set(folder_library.values())}
    for path, text in sorted(files.items()):
        library = owner(path, folder_library)
        if library is None:
            continue
        allowed = closures[library]
        if SPDLOG_INCLUDE.search(text) and "spdlog::spdlog" not in deps.get(library, ()):
            out.append(f"{path}: includes spdlog, which {library} does not link")
        for header in INCLUDE.findall(text):
            target = owner(header, folder_library)
            if target is not None and target not in allowed:
                out.append(f"{path}: includes {header} ({target}), which {library} does not link")
    return out


def source_files(root):
    files = {}
    for module in MODULES:
        for folder, _, names in os.walk(os.path.join(root, module)):
            for name in names:
                if name.endswith(SOURCE):
                    path = os.path.join(folder, name)
                    files[os.path.relpath(path, root)] = open(path, encoding="utf-8").read()
    return files


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    folder_library, deps = read_libraries(root)
    if len(folder_library) < len(MODULES):
        print(f"layering_check: found only {sorted(folder_library)} libraries under {root}", file=sys.stderr)
        return 1
    # The check must be able to fail: an upward include made up from two real layers.
    lowest = min(folder_library, key=lambda f: len(closure(folder_library[f], deps)))
    highest = max(folder_library, key=lambda f: len(closure(folder_library[f], deps)))
    probe = {f"{lowest}/probe.cpp": f'#include "{highest}/anything.hpp"\n'}
    if not violations(probe, folder_library, deps):
        print(f"layering_check: an include from {lowest} up to {highest} went unnoticed", file=sys.stderr)
        return 1
    spdlog_free = [f for f, lib in folder_library.items() if "spdlog::spdlog" not in deps.get(lib, ())]
    if spdlog_free and not violations({f"{spdlog_free[0]}/probe.cpp": "#include <spdlog/spdlog.h>\n"},
                                      folder_library, deps):
        print(f"layering_check: spdlog in {spdlog_free[0]} went unnoticed", file=sys.stderr)
        return 1
    found = violations(source_files(root), folder_library, deps)
    for line in found:
        print(line)
    print(f"layering_check: {len(folder_library)} libraries, {len(found)} violations")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
