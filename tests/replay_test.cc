// The op-log parser, the replayer's comparisons, and the command's exits.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "replay/model.h"
#include "replay/oplog.h"
#include "replay/replayer.h"
#include "replay/target.h"

namespace faultline::replay {
namespace {

std::vector<Op> parse(const std::string& s) {
  std::istringstream in(s);
  return parse_oplog(in);
}

TEST(OpLog, ParsesFsxSyntaxAndFlags) {
  auto ops = parse(
      "# a comment\n"
      "write 0x0 0x1000 0x0\n"
      "\n"
      "skip mapread 0x10 0x20 0x1000   # trailing comment\n"
      "zero_range 0x100 0x200 0x1000 keep_size close_open *\n"
      "truncate 0x0 0x800 0x1000\n"
      "dwrite 4096 4096 2048\n");
  ASSERT_EQ(ops.size(), 5u);
  EXPECT_EQ(ops[0].kind, OpKind::write);
  EXPECT_EQ(ops[0].line, 2);
  EXPECT_TRUE(ops[1].skip);
  EXPECT_EQ(ops[1].off, 0x10u);
  EXPECT_TRUE(ops[2].keep_size && ops[2].close_open && ops[2].marked);
  EXPECT_EQ(ops[3].len, 0x800u);
  EXPECT_EQ(ops[4].kind, OpKind::dwrite);
  EXPECT_EQ(format_op(ops[2]), "zero_range 0x100 0x200 0x1000 keep_size close_open *");
}

TEST(OpLog, MalformedLinesNameTheLine) {
  auto expect_bad = [](const std::string& text, int line, const std::string& mentions) {
    try {
      parse(text);
      ADD_FAILURE() << "parsed: " << text;
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line(), line);
      EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
  };
  expect_bad("write 0x0 0x10 0x0\nfrobnicate 0x0 0x0 0x0\n", 2, "frobnicate");
  expect_bad("write 0x0 0x10\n", 1, "needs offset");
  expect_bad("read 0x0 0xzz 0x0\n", 1, "0xzz");
  expect_bad("read 0x0 0x1 0x0 sideways\n", 1, "sideways");
  expect_bad("skip\n", 1, "skip");
}

// Whatever bytes a log holds, the message shows them quoted, escaped and
// cut: a NUL does not end it, a control byte does not reach the terminal,
// a 2 MB token is not echoed whole; a number past 2^64 is out of range.
TEST(OpLog, HostileTokensAreQuotedEscapedAndCut) {
  auto message = [](const std::string& text) {
    try {
      parse(text);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("parsed");
  };
  std::string nul = message(std::string("wr\0ite 0x0 0x1 0x0\n", 20));
  EXPECT_NE(nul.find("'wr\\x00ite'"), std::string::npos) << nul;
  std::string ctl = message("read 0x0 0x1 0x0 \x1b[2J\xff\n");
  EXPECT_NE(ctl.find("'\\x1b[2J\\xff'"), std::string::npos) << ctl;
  EXPECT_EQ(ctl.find('\x1b'), std::string::npos);
  std::string big = message("read 0x0 0x1 0x0 " + std::string(2 << 20, 'A') + "\n");
  EXPECT_LT(big.size(), 200u);
  EXPECT_NE(big.find("2097152 bytes"), std::string::npos) << big;
  std::string huge = message("read 18446744073709551616 0x1 0x0\n");
  EXPECT_NE(huge.find("out of range"), std::string::npos) << huge;
  EXPECT_EQ(message("read 0x10000000000000000 0x1 0x0\n").find("not a number"), std::string::npos);
  EXPECT_NE(message("read -1 0x1 0x0\n").find("not a number"), std::string::npos);
}

// LF, CR LF and a lone CR each end a line, and lines count the same way.
TEST(OpLog, EveryLineEndingEndsALine) {
  for (const char* eol : {"\n", "\r\n", "\r"}) {
    std::string text = std::string("write 0x0 0x10 0x0") + eol + "read 0x0 0x10 0x10" + eol + eol + "bogus" + eol;
    try {
      parse(text);
      ADD_FAILURE() << "parsed";
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line(), 4) << e.what();
      EXPECT_NE(std::string(e.what()).find("unknown op 'bogus'"), std::string::npos) << e.what();
    }
    text.resize(text.rfind("bogus"));
    auto ops = parse(text);
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_EQ(ops[1].kind, OpKind::read);
  }
}

TEST(OpLog, EveryOpFsxWritesParsesWithItsArity) {
  auto ops = parse(
      "copy_range 0x6eb 0xb508 0x2b6a3 0xbbf3\n"
      "skip clone_range 0x36000 0x0 0x36000 0x36bab\n"
      "skip dedupe_range 0x12000 0x4000 0xb000 0x16a87 *\n"
      "skip exchange_range 0x13000 0x3000 0xf000 0x16a87\n"
      "skip write_atomic 0x7ffb8f05 0x99fd 0x3f8a9\n");
  ASSERT_EQ(ops.size(), 5u);
  EXPECT_EQ(ops[0].kind, OpKind::copy_range);
  EXPECT_EQ(ops[0].dest, 0x2b6a3u);
  EXPECT_EQ(ops[0].size, 0xbbf3u);
  EXPECT_EQ(ops[4].kind, OpKind::write_atomic);
  EXPECT_EQ(ops[4].size, 0x3f8a9u);
  for (const Op& op : ops) EXPECT_EQ(format_op(parse(format_op(op))[0]), format_op(op));
  EXPECT_EQ(format_op(ops[2]), "skip dedupe_range 0x12000 0x4000 0xb000 0x16a87 *");
}

// A log's numbers may be anything a uint64_t holds; a replay holds a piece
// of a read or write on each side, and the data it writes, so a length past
// kMaxStreamedLength (fsx's own bound) is refused at parse time, naming it.
TEST(OpLog, AHugeLengthIsRefusedNamingIt) {
  try {
    parse("write 0x0 0x10 0x0\nread 0x0 0x10000000000 0x10\n");
    ADD_FAILURE() << "parsed";
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(std::string(e.what()).find("0x10000000000"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse("skip read 0x0 0x10000000000 0x10\n").size(), 1u);  // not run, not held
  // Longer than a piece and ending past 2^63 - 1: its pieces would not fail as it does.
  try {
    parse("write 0x7ffffffffff00000 0x2000000 0x0\n");
    ADD_FAILURE() << "parsed";
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("ends past 2^63 - 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse("write 0x7ffffffffff00000 0x200000 0x0\n").size(), 1u);  // one piece: run whole, EINVAL
  EXPECT_EQ(parse("punch_hole 0x0 0x10000000000 0x10\n").size(), 1u);  // moves no data
}

ReplayReport replay_text(const std::string& log, Against against, std::ostringstream& out) {
  ReplayOptions o;
  o.against = against;
  o.config.frames = 64;
  return replay_ops(parse(log), o, out);
}

// fsx -o 80m writes ops of up to 80 MiB: a replay runs an op longer than
// kPieceLength as pieces, each side holding one piece at a time, with the
// results of one whole op (a short read at EOF ends it).
TEST(Replay, OpsLongerThanAPieceRunInPieces) {
  const std::string log =
      "write 0x0 0x2800000 0x0\n"              // 40 MiB: three pieces
      "read 0x100 0x2800000 0x2800000\n"        // ends short at EOF, in its third piece
      "mapwrite 0x27ff001 0x2100000 0x2800000\n"
      "dwrite 0x1000 0x2000000 0x48ff001\n"
      "dread 0x0 0x4900000 0x48ff001\n"
      "mapread 0x1 0x48ff000 0x48ff001\n";
  for (Against a : {Against::engine, Against::both}) {
    std::ostringstream out;
    auto r = replay_text(log, a, out);
    EXPECT_TRUE(r.agreed) << out.str();
    EXPECT_EQ(r.executed, 6u);
    EXPECT_GT(r.bytes_compared, uint64_t{5} * kPieceLength);
  }
  ASSERT_EQ(pieces(parse("read 0x100 0x2800000 0x0\n")[0]).size(), 3u);
  EXPECT_EQ(pieces(parse("read 0x100 0x2800000 0x0\n")[0])[2].off, 0x100 + 2 * kPieceLength);
  EXPECT_EQ(pieces(parse("write_atomic 0x0 0x2000000 0x0\n")[0]).size(), 1u);  // whole, or not at all
}

// What the first fuzzing of the replay found (issue 10), each now a log
// that the engine, the model and the kernel agree on.
TEST(Replay, HostileNumbersAgreeWithLinux) {
  const std::string log =
      "write 0x0 0x3000 0x0\n"
      "write 0xffffffffffffff00 0x1000 0x3000\n"   // end wraps past 2^64: EINVAL
      "mapwrite 0xfffffffffffff000 0x2000 0x3000\n"  // the same through a mapping
      "fallocate 0x0 0x8000000000000000 0x3000\n"  // a negative length: EINVAL, not EFBIG
      "insert_range 0x1000 0xfffffffffffff000 0x3000\n"  // size + length wraps
      "read 0x7fffffffffff0000 0x100 0x3000\n"     // past the maximum size: a short read of 0
      "dread 0x3 0x200 0x3000\n"                   // unaligned inside the file: EINVAL on both
      "dread 0x3003 0x11 0x3000\n"                 // unaligned at EOF: 0 bytes
      "write 0x5000 0x0 0x3000\n"                  // zero-length: nothing, not even the size
      "dontneed 0x0 0x8000000000000000 0x3000\n"   // fadvise's own errno: EINVAL
      "migrate 0x0 0x8000000000000000 0x3000\n"    // faultline's own op, the same range rule
      "read 0x0 0x4000 0x3000\n";
  for (Against a : {Against::engine, Against::both}) {
    std::ostringstream out;
    auto r = replay_text(log, a, out);
    EXPECT_TRUE(r.agreed) << out.str();
    EXPECT_EQ(r.executed, 12u);
  }
}

// A file of terabytes with a few pages written costs a few pages: the
// model is sparse and the final comparison reads where the data is.
TEST(Replay, ATerabyteFileCostsWhatItHolds) {
  std::ostringstream out;
  auto r = replay_text(
      "truncate 0x0 0xfff00000000 0x0\n"
      "write 0xffeffffff00 0x200 0xfff00000000\n"
      "mapwrite 0x7ff00000000 0x2000 0xfff00000100\n"
      "collapse_range 0x1000 0x100000000 0xfff00000100\n"
      "insert_range 0x2000 0x200000000 0xffe00000100\n"  // past 16 TiB: EFBIG on both
      "read 0xfeffffffe00 0x400 0xffe00000100\n",
      Against::engine, out);
  EXPECT_TRUE(r.agreed) << out.str();
  EXPECT_LT(r.bytes_compared, uint64_t{16} << 20);
}

// However a replay ends, no file is left in the tmpdir: both sides'
// files are unlinked as soon as they are open.
TEST(Replay, LeavesNoFileBehind) {
  std::string dir = ::testing::TempDir() + "faultline-leaves-nothing";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  {
    ReplayOptions o;
    o.tmpdir = dir;
    o.engine_on_file = true;
    std::ostringstream out;
    auto r = replay_ops(parse("write 0x0 0x3000 0x0\nread 0x0 0x3000 0x3000\n"), o, out);
    EXPECT_TRUE(r.agreed) << out.str();
    auto kernel = make_kernel_target(dir);
    auto engine = make_engine_target(Config{}, dir);
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a file is left while both targets are open";
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

// XFS_IOC_EXCHANGE_RANGE as XFS answers it (measured on XFS, Linux 6.18):
// the data of a range written only to the page cache moves; offsets are
// checked before a zero length returns.
TEST(Replay, ExchangeRangeAgreesWithXfs) {
  const std::string log =
      "write 0x0 0x1000 0x0\n"
      "write 0x10000 0x1000 0x1000\n"
      "exchange_range 0x8000 0x1000 0x0 0x11000\n"  // 0x8000 lies past the store's size
      "exchange_range 0x1 0x0 0x3 0x11000\n"        // zero length, unaligned: EINVAL
      "exchange_range 0x0 0x0 0x12000 0x11000\n"    // zero length, past EOF: EINVAL
      "exchange_range 0x11000 0x0 0x0 0x11000\n"    // zero length at EOF: success
      "read 0x0 0x11000 0x11000\n";
  ReplayOptions o;
  o.against = Against::engine;
  std::ostringstream out;
  auto r = replay_ops(parse(log), o, out);
  EXPECT_TRUE(r.agreed) << out.str();
  EXPECT_EQ(r.executed, 7u);
  Model m;
  Op bad = parse(log)[3];
  EXPECT_EQ(m.apply(bad, {}).err, EINVAL);
}

TEST(Replay, HandWrittenLogAgreesWithTheModel) {
  auto ops = parse(
      "write 0x0 0x3000 0x0\n"
      "mapwrite 0x2f00 0x300 0x3000\n"      // extends first
      "mapread 0x0 0x3200 0x3200\n"         // checks the EOF tail
      "mapread 0x3000 0x1000 0x3200\n"      // past EOF: skipped
      "punch_hole 0x800 0x1000 0x3200\n"
      "collapse_range 0x1000 0x1000 0x3200\n"
      "collapse_range 0x1001 0x1000 0x2200\n"  // unaligned: EINVAL on both
      "insert_range 0x0 0x1000 0x2200\n"
      "dwrite 0x1000 0x1000 0x3200\n"
      "dread 0x0 0x2000 0x3200\n"
      "migrate 0x0 0x0 0x3200\n"
      "reclaim 0x0 0x100000 0x3200\n"
      "read 0x0 0x4000 0x3200\n");
  ReplayOptions o;
  o.against = Against::engine;
  std::ostringstream out;
  auto r = replay_ops(ops, o, out);
  EXPECT_TRUE(r.agreed) << out.str();
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_GT(r.bytes_compared, 0x3200u);
}

// A target that flips one byte of every read: the replayer must stop at the
// first read and print its line and a hex dump.
class Corrupting final : public Target {
 public:
  Corrupting() : inner_(make_engine_target(Config{})) {}
  const char* name() const override { return "broken"; }
  Outcome apply(const Op& op, std::span<const std::byte> data) override {
    Outcome o = inner_->apply(op, data);
    if (o.data.size() > 5) o.data[5] ^= std::byte{0xff};
    return o;
  }
  uint64_t size() override { return inner_->size(); }
  std::vector<std::byte> contents(uint64_t off, uint64_t len) override { return inner_->contents(off, len); }

 private:
  std::unique_ptr<Target> inner_;
};

TEST(Replay, DifferenceStopsAtTheLineWithAHexDump) {
  auto ops = parse("write 0x0 0x100 0x0\nfsync 0x0 0x0 0x100\nread 0x0 0x10 0x100\nwrite 0x0 0x1 0x100\n");
  Corrupting broken;
  auto model = make_model_target();
  std::ostringstream out;
  auto r = replay_against(broken, *model, ops, out);
  EXPECT_FALSE(r.agreed);
  EXPECT_EQ(r.ops, 3u);
  std::string s = out.str();
  EXPECT_NE(s.find("line 3: read 0x0 0x10 0x100"), std::string::npos) << s;
  EXPECT_NE(s.find("differ at 0x5"), std::string::npos) << s;
  EXPECT_NE(s.find("broken 0x00000000:"), std::string::npos) << s;
}

int run(const std::string& args) {
  int rc = std::system((std::string(FAULTLINE_BIN) + " " + args + " > /dev/null 2>&1").c_str());
  return WEXITSTATUS(rc);
}

TEST(Command, ExitCodes) {
  std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/good.fsxops") << "write 0x0 0x2000 0x0\nmapread 0x0 0x2000 0x2000\n";
  std::ofstream(dir + "/bad.fsxops") << "write 0x0 0x2000 0x0\nwrite zero\n";
  EXPECT_EQ(run("replay --against both " + dir + "/good.fsxops"), 0);
  EXPECT_EQ(run("replay " + dir + "/bad.fsxops"), 2);
  EXPECT_EQ(run("replay " + dir + "/missing.fsxops"), 2);
  EXPECT_EQ(run("replay --against nobody " + dir + "/good.fsxops"), 2);
  EXPECT_EQ(run("replay --protocol nope " + dir + "/good.fsxops"), 2);
  EXPECT_EQ(run("frobnicate"), 2);
  EXPECT_EQ(run("replay " + dir), 2);  // a directory is not a log
  EXPECT_EQ(run("replay --frames 4294967296 --against engine " + dir + "/good.fsxops"), 2);  // no bad_alloc abort
  EXPECT_EQ(run("--version"), 0);
}

std::string slurp(const std::string& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The command's exit status; its standard output and error into out, err
// (through files of this process's own: ctest runs tests side by side).
int run_both(const std::string& args, std::string& out, std::string& err) {
  std::string stem = ::testing::TempDir() + "/faultline-command-" + std::to_string(::getpid());
  std::string o = stem + ".out", e = stem + ".err";
  int rc = std::system((std::string(FAULTLINE_BIN) + " " + args + " > " + o + " 2> " + e).c_str());
  out = slurp(o);
  err = slurp(e);
  ::unlink(o.c_str());
  ::unlink(e.c_str());
  return WEXITSTATUS(rc);
}

// What the command accepted and should not have: each a message and exit 2.
int run_capturing(const std::string& args, std::string& err) {
  std::string out;
  return run_both(args, out, err);
}

std::string run_output(const std::string& args, std::string& err) {
  std::string out;
  run_both(args, out, err);
  return out;
}

TEST(Command, RejectsWhatItUsedToAcceptNamingTheValue) {
  std::string err;
  EXPECT_EQ(run_capturing("generate --seed -1 --count 1", err), 2);
  EXPECT_NE(err.find("-1"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("check --seconds nan --scenario punch-vs-fault --protocol page_lock", err), 2);
  EXPECT_NE(err.find("nan"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("check --scenario bogus", err), 2);
  EXPECT_NE(err.find("punch"), std::string::npos) << err;  // the names it could have been
  EXPECT_NE(err.find("sharedwrite"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("check --scenario punch-vs-fault --protocol page_lock --json /proc/x/y.json", err), 2);
  EXPECT_NE(err.find("/proc/x/y.json"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("check --scenario punch-vs-fault --protocol page_lock --memory-model sc --replay 'x!y'", err),
            2);
  EXPECT_NE(err.find("x!y"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("replay --frames -5 x.fsxops", err), 2);
  EXPECT_EQ(run_capturing("bench --seconds inf", err), 2);
  // Options that cannot act where they are given.
  EXPECT_EQ(run_capturing("replay --against kernel --protocol unlocked x.fsxops", err), 2);
  EXPECT_NE(err.find("--protocol means nothing with --against kernel"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("check --strategy random --bound 2 --scenario punch-vs-fault", err), 2);
  EXPECT_NE(err.find("--bound"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("check --strategy exhaustive --depth 3 --scenario punch-vs-fault", err), 2);
  EXPECT_NE(err.find("--depth means nothing without --strategy pct"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("replay --against both --inject read=EIO@0.1 x.fsxops", err), 2);
  EXPECT_NE(err.find("--inject means nothing with --against both"), std::string::npos) << err;
  EXPECT_EQ(run_capturing(std::string("replay --inject read=EIO@7 ") + FAULTLINE_SAMPLE_LOG, err), 2);
  EXPECT_NE(err.find("'7'"), std::string::npos) << err;
  // Found by trying the command as a user would (issue 22).
  EXPECT_EQ(run_capturing("bogus", err), 2);
  EXPECT_NE(err.find("unknown command 'bogus'"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("--version extra", err), 2);
  EXPECT_NE(err.find("--version takes nothing else"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("generate --seed 99999999999999999999999 --count 1", err), 2);
  EXPECT_NE(err.find("out of range"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("generate --count 5 -o /dev/full", err), 2);
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("generate --count 5 -o /proc/version", err), 2);
  EXPECT_NE(err.find("/proc/version"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("report --quick --out /dev/null", err), 2);
  EXPECT_NE(err.find("not a directory"), std::string::npos) << err;
  EXPECT_EQ(run_capturing("check --scenario punch-vs-fault --protocol page_lock --memory-model sc --replay zz000", err),
            2);
  EXPECT_NE(err.find("is not a schedule of"), std::string::npos) << err;
}

TEST(Command, ReplayInjectReportsWhatFailedAndWhatWasChecked) {
  std::string err;
  std::string out = run_output(std::string("replay --inject read=EIO@0.05,write=EIO@0.05,sync=EIO@0.2,seed=3 ") +
                                   FAULTLINE_SAMPLE_LOG,
                               err);
  EXPECT_NE(out.find("faults injected"), std::string::npos) << out << err;
  EXPECT_NE(out.find("nothing lost unreported"), std::string::npos) << out << err;
}

TEST(Command, BenchAndReportRejectBadOptions) {
  EXPECT_EQ(run("bench --workload page_fault4"), 2);
  EXPECT_EQ(run("bench --protocol page_lok"), 2);
  EXPECT_EQ(run("bench --threads 0"), 2);
  EXPECT_EQ(run("bench --threads 2,x"), 2);
  EXPECT_EQ(run("bench --seconds -1"), 2);
  EXPECT_EQ(run("bench --workload hot_file --json /nonexistent/dir/x.json"), 2);
  EXPECT_EQ(run("report --out /proc/faultline-report"), 2);
  std::string dir = ::testing::TempDir();
  EXPECT_EQ(run("bench --workload hot_file --protocol ideal,kernel --threads 1 --seconds 0.02 --rounds 1 --csv " +
                dir + "/b.csv"),
            0);
  std::ifstream csv(dir + "/b.csv");
  std::string header, ideal, kernel;
  std::getline(csv, header);
  std::getline(csv, ideal);
  std::getline(csv, kernel);
  EXPECT_EQ(ideal.rfind("hot_file,ideal,1,", 0), 0u) << ideal;
  EXPECT_EQ(kernel.rfind("hot_file,kernel,1,", 0), 0u) << kernel;
}

}  // namespace
}  // namespace faultline::replay
