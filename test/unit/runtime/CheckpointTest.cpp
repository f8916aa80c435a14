//===- CheckpointTest.cpp - checkpoints survive being killed mid-save -----===//

#include "checkpoint.h"

#include "file_util.h"

#include <gtest/gtest.h>

#include <csignal>
#include <dirent.h>
#include <cstring>
#include <random>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dsv3::runtime;

namespace {

std::string tempRoot(const std::string &name) {
  std::string root = ::testing::TempDir() + "/" + name + "-" +
                     std::to_string(::getpid());
  removeTree(root);
  return root;
}

/// Parameters whose every value is the step, so a loaded checkpoint shows
/// whether its files belong together.
struct Weights {
  std::vector<float> w, m;
  explicit Weights(int64_t step, size_t n = 1024)
      : w(n, static_cast<float>(step)), m(n, static_cast<float>(-step)) {}
  std::vector<TensorView> params() const {
    return {{"model.embed_tokens.weight", DType::F32,
             {static_cast<int64_t>(w.size())}, w.data()}};
  }
  std::vector<TensorView> moments() const {
    return {{"model.embed_tokens.weight.exp_avg", DType::F32,
             {static_cast<int64_t>(m.size())}, m.data()}};
  }
};

CheckpointState stateAt(int64_t step) {
  return {"tiny_moe", step, std::to_string(1000 + step), step * 1024};
}

/// The loaded checkpoint is complete and consistent with its step.
void expectConsistent(const LoadedCheckpoint &c) {
  int64_t step = c.state.step;
  EXPECT_EQ(c.state.rng, std::to_string(1000 + step));
  EXPECT_EQ(c.state.dataCursor, step * 1024);
  const auto *w = reinterpret_cast<const float *>(
      c.params.data("model.embed_tokens.weight"));
  const auto *m = reinterpret_cast<const float *>(
      c.optimizer.data("model.embed_tokens.weight.exp_avg"));
  ASSERT_TRUE(w && m);
  size_t n = c.params.entries().at("model.embed_tokens.weight").shape[0];
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(w[i], static_cast<float>(step));
    ASSERT_EQ(m[i], static_cast<float>(-step));
  }
}

TEST(Checkpoint, SaveLoadAndKeepTheNewest) {
  CheckpointStore store(tempRoot("ckpt"), /*keep=*/2);
  for (int64_t step : {10, 20, 30}) {
    Weights weights(step);
    ASSERT_TRUE(store.save(stateAt(step), weights.params(), weights.moments())
                    .isOk());
  }
  auto latest = store.loadLatest();
  ASSERT_TRUE(latest.isOk()) << latest.status().message();
  EXPECT_EQ(latest->state.step, 30);
  EXPECT_EQ(latest->state.model, "tiny_moe");
  expectConsistent(*latest);
  struct stat st;
  EXPECT_NE(::stat((store.root() + "/step-00000010").c_str(), &st), 0);
  EXPECT_EQ(::stat((store.root() + "/step-00000020").c_str(), &st), 0);
  // Saving the same step again replaces it.
  Weights again(30);
  ASSERT_TRUE(store.save(stateAt(30), again.params(), again.moments()).isOk());
  expectConsistent(*store.loadLatest());
  removeTree(store.root());
}

TEST(Checkpoint, ReportsWhatIsWrong) {
  CheckpointStore empty(tempRoot("empty"));
  auto none = empty.loadLatest();
  ASSERT_FALSE(none.isOk());
  EXPECT_NE(none.status().message().find("no checkpoint here"), std::string::npos);

  CheckpointStore store(tempRoot("bad"));
  Weights weights(5);
  ASSERT_TRUE(store.save(stateAt(5), weights.params(), weights.moments()).isOk());
  std::string state = store.root() + "/step-00000005/state.json";
  ASSERT_TRUE(writeFileSynced(state, "{\"format\": \"other\"}").isOk());
  auto bad = store.loadLatest();
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find(state + ": not a dsv3 checkpoint"),
            std::string::npos)
      << bad.status().message();

  ASSERT_TRUE(store.save(stateAt(6), weights.params(), weights.moments()).isOk());
  std::string model = store.root() + "/step-00000006/model.safetensors";
  ASSERT_TRUE(::truncate(model.c_str(), 100) == 0);
  auto truncated = store.loadLatest();
  ASSERT_FALSE(truncated.isOk());
  EXPECT_NE(truncated.status().message().find(model), std::string::npos);
  removeTree(store.root());
}

// A child saves checkpoints in a loop and is SIGKILLed at a random moment;
// whatever it was doing, `latest` must name a complete, consistent one.
TEST(Checkpoint, SurvivesSigkillDuringSave) {
  std::string root = tempRoot("kill");
  {
    CheckpointStore store(root);
    Weights first(1, 1 << 16);
    ASSERT_TRUE(store.save(stateAt(1), first.params(), first.moments()).isOk());
  }
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> delay(0, 40000);
  int interrupted = 0;
  for (int round = 0; round < 12; ++round) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      CheckpointStore store(root);
      for (int64_t step = 2 + round * 1000;; ++step) {
        Weights w(step, 1 << 16); // 256 KiB per file
        if (!store.save(stateAt(step), w.params(), w.moments()).isOk())
          ::_exit(3);
      }
    }
    ::usleep(delay(rng));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the saver stopped on its own";
    // A save that was cut short leaves its temporary directory behind.
    if (DIR *dir = ::opendir(root.c_str())) {
      while (dirent *e = ::readdir(dir))
        interrupted += std::string(e->d_name).rfind(".tmp-", 0) == 0;
      ::closedir(dir);
    }
    CheckpointStore store(root);
    auto loaded = store.loadLatest();
    ASSERT_TRUE(loaded.isOk()) << "round " << round << ": "
                               << loaded.status().message();
    expectConsistent(*loaded);
  }
  // Most kills land inside a save (writing and fsyncing is most of the
  // loop); at least one must, or this test proves nothing.
  EXPECT_GT(interrupted, 0);
  RecordProperty("interrupted_saves", interrupted);
  removeTree(root);
}

} // namespace
