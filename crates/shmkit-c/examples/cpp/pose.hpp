// The message type of the typed_pub / typed_sub examples: a plain C struct, so a C program
// (with the same fields), a Rust #[repr(C)] Pod type or a numpy dtype with the same size,
// alignment and tag can join the same broadcast.
#ifndef SHMKIT_EXAMPLE_POSE_HPP
#define SHMKIT_EXAMPLE_POSE_HPP

#include <cstdint>

struct pose {
  std::uint64_t seq;
  double x, y, theta;
};

// The tag names the type and its version: change it when the fields change, and old readers
// get layout_mismatch instead of misread bytes.
inline constexpr const char *pose_tag = "pose v1";
inline constexpr std::uint64_t pose_count = 100;

#endif
