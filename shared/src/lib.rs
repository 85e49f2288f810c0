//! Rules shared by the edge and the phone gateway.
