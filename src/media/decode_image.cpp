// probe() and decode_image().
#include <cstring>
#include <string>

#include "media/media.h"
#include "media/media_internal.h"

namespace locus::media {

using detail::Input;

Kind probe(std::string_view bytes, const Limits& limits) {
  const Input in(bytes, limits);
  return in.kind();
}

Image decode_image(std::string_view bytes, const Limits& limits) {
  const Input in(bytes, limits);
  if (in.kind() != Kind::kImage) throw MediaError("expected an image; the content is " + in.kind_phrase());
  const int vs = in.video_stream();
  if (vs < 0) throw MediaError("FFmpeg has no decoder for the " + in.label() + " image (" + in.stream_list() + ")");
  for (unsigned i = 0; i < in.ctx()->nb_streams; ++i) {
    if (static_cast<int>(i) != vs) in.ctx()->streams[i]->discard = AVDISCARD_ALL;
  }
  const detail::CodecPtr codec = detail::open_decoder(in, vs, in.label() + " image");
  const detail::PacketPtr pkt = detail::make_packet();
  const detail::FramePtr frame = detail::make_frame();

  // The first frame only (GIF, APNG: the first of an animation). The loop ends at the first picture, at the end
  // of the data, or when the packet budget runs out.
  uint64_t used = 0;
  const uint64_t budget = detail::packet_budget(0);
  int last_error = 0;
  bool drained = false;
  bool got = false;
  while (!got) {
    const int r = avcodec_receive_frame(codec.get(), frame.get());
    if (r == 0) {
      got = true;
      break;
    }
    if (r == AVERROR_EOF || drained) {
      if (r != AVERROR_EOF && r != AVERROR(EAGAIN)) last_error = r;
      break;
    }
    if (r != AVERROR(EAGAIN)) last_error = r;  // a bad frame: keep feeding
    if (!detail::next_packet(in, pkt.get(), &used, budget)) {
      avcodec_send_packet(codec.get(), nullptr);
      drained = true;
      continue;
    }
    if (pkt->stream_index != vs) continue;
    const int s = avcodec_send_packet(codec.get(), pkt.get());
    if (s < 0 && s != AVERROR(EAGAIN)) last_error = s;
  }
  if (!got) {
    throw MediaError("cannot decode the " + in.label() + " image: " +
                     (last_error ? detail::av_error_text(last_error) : std::string("the data holds no picture")));
  }
  Image img = detail::frame_to_rgb(frame.get(), limits);
  int orientation = detail::orientation_of_frame(frame.get());
  if (orientation == 1) {
    size_t size = 0;
    const uint8_t* m = av_stream_get_side_data(in.ctx()->streams[vs], AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (m != nullptr && size >= 9 * sizeof(int32_t)) {
      int32_t matrix[9];
      std::memcpy(matrix, m, sizeof matrix);
      orientation = detail::orientation_from_display_matrix(matrix);
    }
  }
  if (orientation == 1) return img;
  return detail::apply_orientation(img, orientation);
}

}  // namespace locus::media
