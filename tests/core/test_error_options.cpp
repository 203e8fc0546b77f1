#include "test_util.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options.hpp"

#include <petscvec.h>

TEST(Options, TypedGettersWithPrefixAndDefaults) {
  physml::Options o("unit_a_");
  o.set("n", "17");
  o.set("x", "2.5e-3");
  o.set("flag", "");
  o.set("name", "dopri5");
  o.set("list", "1,2,3");
  EXPECT_EQ(o.get_int("n", 0), 17);
  EXPECT_DOUBLE_EQ(o.get_real("x", 0.0), 2.5e-3);
  EXPECT_TRUE(o.get_bool("flag", false));
  EXPECT_EQ(o.get_string("name", ""), "dopri5");
  EXPECT_EQ(o.get_int_list("list", {}), (std::vector<long>{1, 2, 3}));
  EXPECT_EQ(o.get_int("absent", 42), 42);
  EXPECT_EQ(o.get_choice("name", {"euler", "dopri5"}, "euler"), "dopri5");
}

TEST(Options, BadValuesGiveClearErrors) {
  physml::Options o("unit_b_");
  o.set("n", "12abc");
  o.set("method", "rk99");
  EXPECT_THROW_MSG(o.get_int("n", 0), "-unit_b_n: expected an integer, got '12abc'");
  EXPECT_THROW_MSG(o.get_choice("method", {"euler", "rk4"}, "euler"), "expected one of: euler, rk4");
  EXPECT_THROW_MSG(o.require_int("missing"), "missing required option -unit_b_missing");
}

TEST(Options, UnusedOptionsAreReported) {
  physml::Options o("unit_c_");
  o.set("used", "1");
  o.set("typo_never_read", "3");
  (void)o.get_int("used", 0);
  auto left = physml::unused_options();
  bool found_typo = false, found_used = false;
  for (const auto& s : left) {
    if (s.find("unit_c_typo_never_read") != std::string::npos) found_typo = true;
    if (s.find("unit_c_used") != std::string::npos) found_used = true;
  }
  EXPECT_TRUE(found_typo);
  EXPECT_FALSE(found_used);
  EXPECT_THROW_MSG(physml::check_no_unused_options(), "unit_c_typo_never_read");
  PetscOptionsClearValue(nullptr, "-unit_c_typo_never_read");
}

TEST(Error, PetscErrorsBecomeExceptionsWithPetscMessage) {
  PetscOptionsSetValue(nullptr, "-unit_err_n", "abc");
  PetscInt n = 0;
  try {
    PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-unit_err_n", &n, nullptr));
    FAIL() << "expected an exception";
  } catch (const physml::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("PetscOptionsGetInt"), std::string::npos) << m;
    EXPECT_NE(m.find("abc"), std::string::npos) << m;
    EXPECT_FALSE(e.where().empty());
  }
}

namespace {
PetscErrorCode throwing_callback() {
  PetscFunctionBeginUser;
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, PHYSML_THROW("inner failure value=", 3));
  PetscFunctionReturn(0);
}
}  // namespace

TEST(Error, ExceptionsBecomePetscErrorCodesAtCallbacks) {
  PetscErrorCode code = throwing_callback();
  EXPECT_NE(code, 0);
  try {
    PHYSML_PETSC(code);
    FAIL();
  } catch (const physml::Error& e) {
    EXPECT_NE(std::string(e.what()).find("inner failure value=3"), std::string::npos) << e.what();
  }
}
