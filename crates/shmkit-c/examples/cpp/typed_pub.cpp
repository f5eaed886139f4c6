// A typed publisher in C++: publishes `pose` structs on a broadcast, written in place in the
// shared memory slot (zero-copy), once a subscriber is there.
//
//   typed_pub [NAME]    (default poses; start typed_sub with the same NAME)
#include <shmkit.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "pose.hpp"

using namespace std::chrono_literals;

int main(int argc, char **argv) {
  std::string name = argc > 1 ? argv[1] : "poses";
  try {
    // The layout (sizeof, alignof, tag) is stored in the broadcast; the default policy
    // (block) waits for the slowest subscriber, so none misses a message.
    auto pub = shmkit::typed_publisher<pose>::create(name, pose_tag);
    if (!pub.wait_for_subscribers_for(1, 30s)) {
      std::fprintf(stderr, "typed_pub: no subscriber within 30 s\n");
      return 1;
    }
    for (std::uint64_t i = 0; i < pose_count; i++) {
      auto loan = pub.loan();  // a pose in the slot, written in place
      loan->seq = i;
      loan->x = 0.5 * double(i);
      loan->y = -0.25 * double(i);
      loan->theta = 0.01 * double(i);
      loan.commit();
    }
    std::printf("typed_pub: published %llu poses on %s\n", (unsigned long long)pose_count,
                name.c_str());
    // Destroying the publisher removes the name; subscribers still read what was published,
    // then get shmkit::disconnected.
    return 0;
  } catch (const shmkit::error &e) {
    std::fprintf(stderr, "typed_pub: %s (%s)\n", e.what(), e.status_name());
    return 1;
  }
}
