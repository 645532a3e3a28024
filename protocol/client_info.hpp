// Who a client is, as shown to other clients (the protocol's ClientInfo):
// in join/leave pushes, presence replies and a publication's `info`.
#pragma once

#include <string>

namespace herald::protocol {

struct client_info {
  std::string user;
  std::string client;
  std::string conn_info; ///< JSON text, empty when none
  std::string chan_info; ///< JSON text, empty when none
};

} // namespace herald::protocol
