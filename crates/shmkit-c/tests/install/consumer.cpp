// A C++ program built against an installed shmkit (shmkit.hpp).
#include <shmkit.hpp>

#include <ctime>
#include <iostream>
#include <string>

int main() {
  try {
    auto seg = shmkit::segment::create("consumer-cpp-" + std::to_string(std::clock()), 4096);
    auto view = seg.map();
    view.write(0, "hello from C++");
    std::cout << view.data().subspan(0, 14).str() << "\n";
    return view.data().subspan(0, 14).str() == "hello from C++" ? 0 : 1;
  } catch (const shmkit::error &e) {
    std::cerr << e.status_name() << ": " << e.what() << "\n";
    return 1;
  }
}
