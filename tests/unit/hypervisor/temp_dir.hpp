// A fresh private directory under /tmp for one test, removed with its files.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdlib>
#include <string>

namespace usernet {

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/usernet-hypervisor-test.XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path;
};

}  // namespace usernet
