#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "netstack/api/stats.hpp"

using namespace usernet;

TEST_CASE("one snapshot renders as Prometheus text and JSON with the same values") {
  StatsSnapshot s;
  s.add("usernet_a_total", "A things", MetricType::counter, 3);
  s.add("usernet_b", "B by kind", MetricType::gauge, 1, {{"kind", "x"}});
  s.add("usernet_b", "ignored help", MetricType::counter, 2, {{"kind", "y\"\\\n"}});
  CHECK(s.metrics().size() == 2);
  CHECK(s.value("usernet_b") == 3);
  CHECK(s.value("usernet_b", {{"kind", "x"}}) == 1);
  CHECK(s.value("missing") == 0);
  CHECK(s.to_prometheus() ==
        "# HELP usernet_a_total A things\n# TYPE usernet_a_total counter\nusernet_a_total 3\n"
        "# HELP usernet_b B by kind\n# TYPE usernet_b gauge\nusernet_b{kind=\"x\"} 1\n"
        "usernet_b{kind=\"y\\\"\\\\\\n\"} 2\n");
  auto json = nlohmann::json::parse(s.to_json());
  CHECK(json["usernet_a_total"] == 3);
  CHECK(json["usernet_b"][1]["labels"]["kind"] == "y\"\\\n");
  CHECK(json["usernet_b"][1]["value"] == 2);
}

TEST_CASE("invalid UTF-8 in a label does not break the JSON") {
  StatsSnapshot s;
  s.add("usernet_x", "x", MetricType::gauge, 1, {{"name", std::string("bad\xff")}});
  CHECK_NOTHROW(nlohmann::json::parse(s.to_json()));
}
