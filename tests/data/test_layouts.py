from pathlib import Path

import pytest

from reenact.data.layouts import MAX_ID_LENGTH, discover
from reenact.io import InputError


def touch(root: Path, *paths: str) -> None:
    for p in paths:
        f = root / p
        f.parent.mkdir(parents=True, exist_ok=True)
        f.touch()


def by_id(items) -> dict:
    return {it.id: it for it in items}


def test_faceforensics_takes_only_the_real_videos(tmp_path):
    touch(tmp_path,
          "original_sequences/youtube/c23/videos/000.mp4",
          "original_sequences/youtube/c23/videos/001.mp4",
          "original_sequences/youtube/raw/videos/000.mp4",
          "original_sequences/actors/c40/videos/01__walking.mp4",
          "original_sequences/actors/c40/videos/01__talking_angry.mp4",
          "original_sequences/youtube/c23/videos/notes.txt",
          "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4")
    items = discover(tmp_path)
    assert [it.id for it in items] == sorted(it.id for it in items)
    got = {it.id: it.identity for it in items}
    assert got == {
        "ffpp__original_sequences__actors__c40__videos__01__talking_angry": "ffpp/actors/01",
        "ffpp__original_sequences__actors__c40__videos__01__walking": "ffpp/actors/01",
        "ffpp__original_sequences__youtube__c23__videos__000": "ffpp/youtube/000",
        "ffpp__original_sequences__youtube__c23__videos__001": "ffpp/youtube/001",
        "ffpp__original_sequences__youtube__raw__videos__000": "ffpp/youtube/000",
    }
    assert {(it.dataset, it.kind) for it in items} == {("ffpp", "video")}
    assert all(it.path.is_file() and "manipulated" not in str(it.path) for it in items)


def test_celebdf_takes_celeb_real_and_youtube_real(tmp_path):
    touch(tmp_path, "Celeb-real/id0_0003.mp4", "Celeb-real/id12_0001.mp4",
          "YouTube-real/00012.mp4", "Celeb-synthesis/id0_id1_0003.mp4",
          "List_of_testing_videos.txt")
    got = {it.id: it.identity for it in discover(tmp_path)}
    assert got == {"celebdf__Celeb-real__id0_0003": "celebdf/id0",
                   "celebdf__Celeb-real__id12_0001": "celebdf/id12",
                   "celebdf__YouTube-real__00012": "celebdf/yt/00012"}


@pytest.mark.parametrize("level", ["", "dev/", "vox1/test/"])
def test_voxceleb1_videos_and_frame_folders(tmp_path, level):
    touch(tmp_path, f"{level}id10001/1zcIwhmdeo4/00001.mp4", f"{level}id10001/1zcIwhmdeo4/00002.mp4",
          f"{level}id10002/abcdefghijk/00001/0001.jpg", f"{level}id10002/abcdefghijk/00001/0002.jpg",
          f"{level}id10002/abcdefghijk/00002/0001.jpg")  # one image: not a clip
    items = by_id(discover(tmp_path))
    prefix = "vox1__" + level.replace("/", "__")
    assert set(items) == {f"{prefix}id10001__1zcIwhmdeo4__00001",
                          f"{prefix}id10001__1zcIwhmdeo4__00002",
                          f"{prefix}id10002__abcdefghijk__00001"}
    clip = items[f"{prefix}id10002__abcdefghijk__00001"]
    assert (clip.identity, clip.dataset, clip.kind) == ("vox1/id10002", "vox1", "frames")
    assert clip.path.is_dir()
    assert items[f"{prefix}id10001__1zcIwhmdeo4__00001"].identity == "vox1/id10001"


def test_plain_folder_videos_and_frame_folders(tmp_path):
    touch(tmp_path, "a.mp4", "B.MOV", "sub/dir/c.webm", "sub/x.avi", "sub/y.mkv", "notes.txt",
          ".hidden.mp4", "clips/talk/000.png", "clips/talk/001.jpg", "clips/lonely/000.png",
          "same.mp4", "same.avi", "odd name#1.mp4")
    items = discover(tmp_path)
    got = {it.id: (it.identity, it.kind) for it in items}
    assert got["plain__a"] == ("plain/a", "video")
    assert got["plain__B"] == ("plain/B", "video")
    assert got["plain__sub__dir__c"] == ("plain/c", "video")
    assert got["plain__clips__talk"] == ("plain/talk", "frames")
    assert got["plain__odd_name_1"] == ("plain/odd name#1", "video")
    assert "plain__clips__lonely" not in got and "plain__.hidden" not in got
    same = sorted(i for i in got if i.startswith("plain__same"))
    assert len(same) == 2 and same[0] != same[1]  # same.mp4 / same.avi: made unique
    assert len(items) == 9 and len(set(got)) == 9
    assert all(set(i) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
               for i in got)
    assert [it.id for it in items] == sorted(got)
    assert discover(tmp_path) == items  # deterministic


def test_long_paths_give_short_unique_ids(tmp_path):
    deep = "/".join(["a_rather_long_folder_name"] * 6)
    touch(tmp_path, f"{deep}/one.mp4", f"{deep}/two.mp4")
    items = discover(tmp_path)
    assert len({it.id for it in items}) == 2
    assert all(len(it.id) <= MAX_ID_LENGTH for it in items)


def test_a_frame_folder_as_src(tmp_path):
    touch(tmp_path, "talk/0.png", "talk/1.png")
    (item,) = discover(tmp_path / "talk")
    assert (item.id, item.kind, item.identity) == ("plain__talk", "frames", "plain/talk")


def test_nothing_usable_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="missing: no such folder"):
        discover(tmp_path / "missing")
    (tmp_path / "file.mp4").touch()
    with pytest.raises(InputError, match="not a folder"):
        discover(tmp_path / "file.mp4")
    empty = tmp_path / "empty"
    touch(empty, "readme.txt", "one/0.png")
    with pytest.raises(InputError, match=f"{empty}: nothing to preprocess"):
        discover(empty)
    fakes_only = tmp_path / "ffpp"
    touch(fakes_only, "original_sequences/youtube/c23/videos/.keep",
          "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4")
    with pytest.raises(InputError, match="FaceForensics"):
        discover(fakes_only)
