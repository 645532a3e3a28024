// Building the answers of the REST API: one function makes every JSON
// response, so the headers all answers share (Server, Content-Type,
// Cache-Control, keep-alive) are set in one place.
#pragma once

#include <boost/beast/http.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace herald::net {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

/// A header an answer adds to the common ones, e.g. Herald-Projection-Status.
using extra_header = std::pair<std::string_view, std::string_view>;

/// A JSON response to `req`, with its version and keep-alive.
http_response make_response(const http_request& req, boost::beast::http::status status,
                            std::string body, std::initializer_list<extra_header> headers = {});

/// make_response with the body {"error":{"code":CODE,"message":MESSAGE}}.
http_response error_response(const http_request& req, boost::beast::http::status status,
                             std::string_view code, std::string_view message,
                             std::initializer_list<extra_header> headers = {});

} // namespace herald::net
