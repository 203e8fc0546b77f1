// OptionsReader: typed keys read through PetscOptionsBegin/End, defaults, ranges, -help text.
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "test_util.hpp"

#include <cstdarg>
#include <cstdio>
#include <string>

using physml::Options;
using physml::OptionsReader;

namespace {

/// A private options database, destroyed with the test.
using Database = physml::test::OptionsDatabase;

std::string captured;
PetscErrorCode capture(MPI_Comm, const char format[], ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  captured += buf;
  return 0;
}

}  // namespace

TEST(OptionsReader, ReadsGivenValuesAndKeepsDefaultsOtherwise) {
  Database d;
  d.set("-m_channels", "8");
  d.set("-m_lr", "2.5e-4");
  d.set("-m_flag", nullptr);  // "-flag" alone is true
  d.set("-m_modes", "12,6");
  d.set("-m_padding", "circular");
  OptionsReader r(Options("m_", d.db), "test section");
  EXPECT_EQ(r.integer("channels", 24, "hidden channels"), 8);
  EXPECT_EQ(r.integer("levels", 6, "levels"), 6);
  EXPECT_DOUBLE_EQ(r.real("lr", 1e-3, "learning rate"), 2.5e-4);
  EXPECT_TRUE(r.boolean("flag", false, "a flag"));
  EXPECT_FALSE(r.boolean("other", false, "another flag"));
  EXPECT_EQ(r.int_list("modes", {12}, "modes"), (std::vector<long>{12, 6}));
  EXPECT_EQ(r.choice("padding", {"zeros", "circular"}, "zeros", "padding"), "circular");
  EXPECT_EQ(r.string("name", "abc", "a name"), "abc");
  EXPECT_TRUE(r.given("channels"));
  EXPECT_FALSE(r.given("levels"));
  // The record holds every key read, defaults included, by full option name.
  EXPECT_EQ(r.record().at("-m_channels"), "8");
  EXPECT_EQ(r.record().at("-m_levels"), "6");
  EXPECT_EQ(r.record().at("-m_lr"), "2.5e-4");
  EXPECT_EQ(r.record().at("-m_flag"), "true");
  EXPECT_EQ(r.record().at("-m_name"), "abc");
  r.end();
  // Every given key was marked used, so nothing is reported as a misspelling.
  EXPECT_TRUE(physml::unused_options(d.db).empty());
}

TEST(OptionsReader, RejectsBadValuesNamingTheKey) {
  Database d;
  d.set("-k", "65");
  d.set("-x", "abc");
  d.set("-pad", "mirror");
  d.set("-b", "maybe");
  OptionsReader r(Options("", d.db), "bad values");
  EXPECT_THROW_MSG(r.integer("k", 2, "k", 0, 64), "option -k = 65 is out of range: expected 0 to 64");
  EXPECT_THROW_MSG(r.real("x", 1.0, "x"), "option -x: expected a real number, got 'abc'");
  EXPECT_THROW_MSG(r.choice("pad", {"zeros", "circular"}, "zeros", "padding"),
                   "option -pad: unknown value 'mirror'; expected one of: zeros, circular");
  EXPECT_THROW_MSG(r.boolean("b", true, "b"), "option -b: expected a boolean");
}

TEST(OptionsReader, HelpListsEveryKeyWithItsDefaultAndMeaning) {
  Database d;
  d.set("-help", nullptr);
  d.set("-h_width", "64");
  auto saved = PetscHelpPrintf;
  PetscHelpPrintf = capture;
  captured.clear();
  {
    OptionsReader r(Options("h_", d.db), "Help test section");
    r.integer("width", 32, "channels of the layers");
    r.real("padding", 0.1, "domain padding fraction");
    r.choice("mode", {"a", "b"}, "a", "the mode");
  }
  PetscHelpPrintf = saved;
  EXPECT_NE(captured.find("Help test section"), std::string::npos) << captured;
  EXPECT_NE(captured.find("-h_width <now 64 : formerly 32>: channels of the layers"), std::string::npos) << captured;
  EXPECT_NE(captured.find("-h_padding <now 0.1 : formerly 0.1>: domain padding fraction"), std::string::npos) << captured;
  EXPECT_NE(captured.find("the mode (a|b)"), std::string::npos) << captured;
}

TEST(OptionsRecorder, CollectsEveryKeyOfNestedSectionsAsTypedJson) {
  Database d;
  PHYSML_PETSC(PetscOptionsSetValue(d.db, "-a_n", "7"));
  PHYSML_PETSC(PetscOptionsSetValue(d.db, "-b_flag", "yes"));
  physml::OptionsRecorder outer;
  {
    physml::OptionsRecorder inner;
    OptionsReader ra(Options("a_", d.db), "section a");
    ra.integer("n", 1, "a count");
    ra.string("name", "x \"quoted\"", "a name");
    ra.end();
    EXPECT_EQ(inner.values().size(), 2u);
  }
  OptionsReader rb(Options("b_", d.db), "section b");
  rb.boolean("flag", false, "a flag");
  rb.real("r", 0.25, "a real");
  rb.end();
  outer.add("derived", "3.5");
  ASSERT_EQ(outer.values().size(), 5u);
  EXPECT_EQ(outer.values()[0], (std::pair<std::string, std::string>{"-a_n", "7"}));
  EXPECT_EQ(outer.values()[2], (std::pair<std::string, std::string>{"-b_flag", "true"}));
  // Typed JSON: integers, reals and booleans as JSON values, strings escaped.
  EXPECT_EQ(outer.json(), R"({"a_n":7,"a_name":"x \"quoted\"","b_flag":true,"b_r":0.25,"derived":3.5})");
}
