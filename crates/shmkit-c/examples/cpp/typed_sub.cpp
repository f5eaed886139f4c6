// A typed subscriber in C++: reads `pose` structs from a broadcast in place, until the
// publisher is gone.
//
//   typed_sub [NAME]    (default poses)
#include <shmkit.hpp>

#include <cstdio>
#include <string>

#include "pose.hpp"

int main(int argc, char **argv) {
  std::string name = argc > 1 ? argv[1] : "poses";
  try {
    shmkit::broadcast_options o;
    o.open_timeout_ns = 30'000'000'000;  // the publisher may not have started yet
    // A struct with another size, alignment or tag would throw shmkit::layout_mismatch here.
    auto sub = shmkit::typed_subscriber<pose>::open(name, pose_tag, o);
    std::uint64_t received = 0;
    double last_x = 0;
    for (;;) {
      try {
        auto msg = sub.recv();  // const pose &, in the slot, until msg is destroyed
        if (msg->seq != received || msg->x != 0.5 * double(received)) {
          std::fprintf(stderr, "typed_sub: got seq %llu, expected %llu\n",
                       (unsigned long long)msg->seq, (unsigned long long)received);
          return 1;
        }
        last_x = msg->x;
        received++;
      } catch (const shmkit::disconnected &) {
        break;  // the publisher is gone and everything it published was read
      }
    }
    std::printf("typed_sub: received %llu poses, the last at x = %.1f\n",
                (unsigned long long)received, last_x);
    return received == pose_count ? 0 : 1;
  } catch (const shmkit::error &e) {
    std::fprintf(stderr, "typed_sub: %s (%s)\n", e.what(), e.status_name());
    return 1;
  }
}
