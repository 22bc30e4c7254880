//! Windows: not checked yet. The rule there reads each path's ACL (write
//! access for `Everyone`, `Users` or `Authenticated Users`); until that is
//! built, every path passes, as the crate docs say.

use std::path::Path;

use crate::Problem;

/// Always `None`; see the module docs.
pub(crate) fn problem(_path: &Path, _is_dir: bool) -> Option<Problem> {
    None
}
