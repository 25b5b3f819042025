#include <doctest/doctest.h>

#include "hypervisor/qmp_protocol.hpp"

using namespace usernet;

TEST_CASE("QMP greeting, return, error and event are told apart") {
  auto m = parse_qmp_message(
      R"({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": ["oob"]}})");
  CHECK(m.kind == QmpMessageKind::greeting);
  CHECK(m.body["version"]["qemu"]["major"] == 7);

  m = parse_qmp_message(R"({"return": {"running": true, "status": "running"}, "id": 4})");
  CHECK(m.kind == QmpMessageKind::result);
  REQUIRE(m.id);
  CHECK(*m.id == 4);
  CHECK(m.body["running"] == true);

  m = parse_qmp_message(R"({"error": {"class": "GenericError", "desc": "nope"}, "id": 5})");
  CHECK(m.kind == QmpMessageKind::error);
  CHECK(*m.id == 5);
  CHECK(m.error_class == "GenericError");
  CHECK(m.error_description == "nope");

  m = parse_qmp_message(
      R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "NETDEV_STREAM_CONNECTED", "data": {"netdev-id": "net0", "addr": {"type": "fd"}}})");
  CHECK(m.kind == QmpMessageKind::event);
  CHECK(m.event == "NETDEV_STREAM_CONNECTED");
  CHECK(m.body["netdev-id"] == "net0");
  CHECK_FALSE(m.id);
}

TEST_CASE("bad QMP input is invalid, never a crash") {
  CHECK(parse_qmp_message("").kind == QmpMessageKind::invalid);
  CHECK(parse_qmp_message("{").kind == QmpMessageKind::invalid);
  CHECK(parse_qmp_message("[1,2]").kind == QmpMessageKind::invalid);
  CHECK(parse_qmp_message(R"({"something": 1})").kind == QmpMessageKind::invalid);
  CHECK(parse_qmp_message(R"({"event": 7})").kind == QmpMessageKind::invalid);
  CHECK(parse_qmp_message(R"({"error": "flat"})").kind == QmpMessageKind::invalid);
  // A return with a non-integer id has no id: no pending command can match it.
  const auto m = parse_qmp_message(R"({"return": {}, "id": "x"})");
  CHECK(m.kind == QmpMessageKind::result);
  CHECK_FALSE(m.id);
  CHECK(parse_qmp_message(R"({"error": {"class": 3}, "id": 1})").error_class.empty());
}

TEST_CASE("commands are one JSON line with execute, id and optional arguments") {
  CHECK(format_qmp_command("query-status", 3) == "{\"execute\":\"query-status\",\"id\":3}\r\n");
  const auto line = format_qmp_command("set_link", 9, {{"name", "net0"}, {"up", false}});
  CHECK(line.back() == '\n');
  const auto parsed = nlohmann::json::parse(line);
  CHECK(parsed["execute"] == "set_link");
  CHECK(parsed["id"] == 9);
  CHECK(parsed["arguments"]["up"] == false);
}

TEST_CASE("line splitter joins partial reads and handles CRLF and LF") {
  QmpLineSplitter splitter;
  CHECK(splitter.feed("{\"a\"").empty());
  auto lines = splitter.feed(":1}\r\n{\"b\":2}\n\r\n{\"c\"");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "{\"a\":1}");
  CHECK(lines[1] == "{\"b\":2}");
  lines = splitter.feed(":3}\r\n");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "{\"c\":3}");
  CHECK_FALSE(splitter.overflowed());
}

TEST_CASE("line splitter refuses endless lines") {
  QmpLineSplitter splitter(16);
  CHECK(splitter.feed("0123456789").empty());
  CHECK_FALSE(splitter.overflowed());
  CHECK(splitter.feed("0123456789").empty());
  CHECK(splitter.overflowed());
  CHECK(splitter.feed("\n{}\n").empty());

  QmpLineSplitter whole(4);
  CHECK(whole.feed("0123456789\n").empty());
  CHECK(whole.overflowed());
}
