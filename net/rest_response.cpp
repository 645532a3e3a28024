#include "net/rest_response.hpp"

#include "net/http_util.hpp"

namespace herald::net {

namespace http = boost::beast::http;

http_response make_response(const http_request& req, http::status status, std::string body,
                            std::initializer_list<extra_header> headers) {
  http_response res{status, req.version()};
  res.set(http::field::server, "herald");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : headers)
    res.set(boost::beast::string_view(name.data(), name.size()),
            boost::beast::string_view(value.data(), value.size()));
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_response error_response(const http_request& req, http::status status, std::string_view code,
                             std::string_view message,
                             std::initializer_list<extra_header> headers) {
  return make_response(req, status, error_body(code, message), headers);
}

} // namespace herald::net
