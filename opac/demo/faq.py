"""Demo FAQ of a university library (Indonesian, with the English words patrons also use)."""

from __future__ import annotations

#: (key, category, question, answer, keywords)
FAQS = [
    ("renew", "account", "Bagaimana cara memperpanjang pinjaman?",
     "<p>Masuk ke aplikasi, buka <strong>Pinjaman saya</strong>, lalu pilih <em>Perpanjang</em> pada buku yang ingin "
     "diperpanjang, atau <em>Perpanjang semua</em>. Jika tidak bisa, alasannya selalu ditampilkan (misalnya buku sedang "
     "dipesan anggota lain atau batas perpanjangan tercapai).</p>",
     "perpanjang perpanjangan pinjaman renew renewal extend due date jatuh tempo online"),
    ("loan_rules", "account", "Berapa lama masa pinjam dan berapa buku yang boleh dipinjam?",
     "<p>Mahasiswa meminjam paling banyak 5 buku selama 14 hari dan dapat memperpanjang 2 kali. Dosen 15 buku selama 30 "
     "hari. Koleksi referensi, jurnal, dan majalah hanya dibaca di tempat.</p>",
     "lama pinjam berapa buku maksimal batas loan period how many books borrow limit mahasiswa dosen"),
    ("fines", "account", "Apakah ada denda jika terlambat mengembalikan buku?",
     "<p>Ya. Keterlambatan dikenakan denda per hari per buku sesuai peraturan perpustakaan. Denda di atas batas "
     "tertentu memblokir peminjaman dan perpanjangan sampai dibayar di meja sirkulasi.</p>",
     "denda terlambat telat telat mengembalikan late fine overdue bayar"),
    ("hold", "finding", "Buku yang saya cari sedang dipinjam. Bisakah saya memesannya?",
     "<p>Bisa. Buka cantuman buku di katalog lalu pilih <strong>Pesan buku ini</strong> dan lokasi pengambilan. Anda "
     "melihat urutan antrean dan perkiraan waktu tunggu, dan diberi tahu saat buku siap diambil.</p>",
     "pesan reservasi antri antrean booking hold reserve dipinjam orang lain waiting list"),
    ("pin", "account", "Saya lupa PIN atau kata sandi kartu perpustakaan.",
     "<p>Pilih <em>Lupa PIN?</em> di halaman masuk dan ketik nomor kartu atau e-mail Anda. Tautan untuk membuat PIN baru "
     "dikirim ke e-mail yang terdaftar. Jika belum ada e-mail, datang ke meja sirkulasi membawa kartu identitas.</p>",
     "lupa pin password kata sandi reset forgot login masuk tidak bisa"),
    ("membership", "account", "Bagaimana cara menjadi anggota perpustakaan?",
     "<p>Mahasiswa dan dosen otomatis terdaftar; kartu anggota diaktifkan di meja sirkulasi dengan KTM atau kartu "
     "pegawai. Masyarakat umum dapat mendaftar dengan KTP dan pas foto.</p>",
     "daftar anggota keanggotaan kartu anggota member membership register join sign up KTM"),
    ("hours", "facilities", "Kapan perpustakaan buka?",
     "<p>Senin–Jumat pukul 08.00–20.00 dan Sabtu 08.00–14.00. Minggu dan hari libur nasional tutup. Lihat halaman "
     "<a href=\"/info\">Jam buka dan kontak</a> untuk jadwal minggu ini.</p>",
     "jam buka tutup jadwal opening hours open close sabtu minggu libur"),
    ("wifi", "facilities", "Apakah ada Wi-Fi di perpustakaan?",
     "<p>Ada. Sambungkan ke jaringan kampus dengan akun SSO Anda. Tamu dapat meminta akses tamu di meja informasi.</p>",
     "wifi wi-fi internet jaringan hotspot koneksi password"),
    ("print", "facilities", "Bisakah saya mencetak, memindai, atau memfotokopi di perpustakaan?",
     "<p>Bisa. Mesin cetak dan pindai ada di lantai 1; fotokopi dilayani di ruang layanan dengan tarif per lembar.</p>",
     "print cetak printer scan pindai fotokopi photocopy copy"),
    ("rooms", "facilities", "Bagaimana meminjam ruang diskusi untuk kerja kelompok?",
     "<p>Ruang diskusi di lantai 2 dipesan di meja informasi untuk paling lama 2 jam, minimal 3 orang, dengan "
     "menunjukkan kartu anggota.</p>",
     "ruang diskusi belajar kelompok study room meeting booking pesan ruangan"),
    ("theses", "finding", "Di mana mencari skripsi, tesis, dan disertasi?",
     "<p>Cari di katalog dan pilih jenis bahan <em>Skripsi/Tesis</em>. Naskah lengkap dibaca di ruang referensi; versi "
     "digital (abstrak dan bab tertentu) ada di repositori institusi.</p>",
     "skripsi tesis disertasi tugas akhir thesis dissertation repository repositori karya ilmiah"),
    ("ejournal", "research", "Bagaimana mengakses jurnal elektronik dari rumah?",
     "<p>Gunakan tautan e-journal di situs perpustakaan lalu masuk dengan akun SSO kampus (akses jarak jauh melalui "
     "proxy). Database yang tersedia antara lain jurnal nasional terakreditasi SINTA dan langganan internasional.</p>",
     "jurnal elektronik e-journal database akses rumah luar kampus remote access proxy artikel ilmiah"),
    ("callnumber", "finding", "Apa itu nomor panggil dan bagaimana menemukan buku di rak?",
     "<p>Nomor panggil (misalnya <strong>899.221 3 HIR l</strong>) tertera pada punggung buku: nomor klasifikasi DDC, "
     "tiga huruf pertama nama pengarang, dan huruf pertama judul. Rak diurutkan menurut nomor itu.</p>",
     "nomor panggil call number rak shelf letak lokasi buku menemukan klasifikasi DDC"),
    ("purchase", "finding", "Bisakah saya mengusulkan buku untuk dibeli perpustakaan?",
     "<p>Bisa. Kirim judul, pengarang, dan penerbit lewat <a href=\"/ask\">Tanya pustakawan</a> dengan topik "
     "<em>Mencari bahan</em>. Usulan dipertimbangkan pada pengadaan berikutnya.</p>",
     "usul usulan pengadaan beli buku baru suggest purchase request acquisition"),
    ("clearance", "account", "Bagaimana mendapatkan surat bebas pustaka untuk wisuda?",
     "<p>Pastikan semua pinjaman sudah dikembalikan dan denda lunas, serahkan salinan skripsi ke perpustakaan, lalu ajukan "
     "surat keterangan bebas pustaka di meja sirkulasi.</p>",
     "bebas pustaka surat keterangan wisuda lulus kelulusan clearance graduation yudisium"),
    ("citation", "research", "Apakah perpustakaan membantu membuat daftar pustaka dan sitasi?",
     "<p>Ya. Pustakawan memberi pelatihan Mendeley dan Zotero setiap bulan. Di katalog, setiap cantuman punya tombol "
     "<em>Kutip</em> (APA, MLA, Chicago) dan unduhan RIS/BibTeX.</p>",
     "daftar pustaka sitasi kutipan citation reference mendeley zotero APA bibliografi"),
    ("plagiarism", "research", "Bisakah saya mengecek kemiripan (plagiarisme) skripsi di perpustakaan?",
     "<p>Bisa. Layanan cek kemiripan dengan Turnitin tersedia untuk mahasiswa tingkat akhir; kirim berkas lewat "
     "<a href=\"/ask\">Tanya pustakawan</a> dengan topik <em>Bantuan penelitian</em>.</p>",
     "plagiarisme plagiat turnitin cek kemiripan similarity check"),
    ("lost", "account", "Buku yang saya pinjam hilang atau rusak. Apa yang harus saya lakukan?",
     "<p>Laporkan segera ke meja sirkulasi. Buku diganti dengan judul yang sama (atau edisi terbaru) atau dengan biaya "
     "penggantian; denda keterlambatan berhenti dihitung sejak laporan.</p>",
     "hilang rusak robek basah ganti penggantian lost damaged book"),
    ("donation", "other", "Saya ingin menyumbangkan buku ke perpustakaan.",
     "<p>Terima kasih! Bawa buku ke bagian pengadaan pada jam kerja. Kami menerima buku dalam kondisi baik yang sesuai "
     "koleksi; buku yang tidak sesuai kami teruskan ke taman bacaan.</p>",
     "sumbang sumbangan donasi hibah hadiah donate donation gift"),
    ("lockers", "facilities", "Boleh membawa tas ke dalam perpustakaan?",
     "<p>Tas besar dan jaket disimpan di loker dekat pintu masuk; kunci loker dipinjam dengan kartu anggota. Laptop dan "
     "dompet boleh dibawa masuk.</p>",
     "tas loker penitipan barang bag locker bawa masuk jaket"),
]

CANNED = [
    ("Salam pembuka", "Halo, terima kasih sudah bertanya ke perpustakaan."),
    ("Cek katalog", "Silakan cari judulnya di katalog; jika semua eksemplar sedang dipinjam, pilih “Pesan buku ini”."),
    ("Penutup", "Semoga membantu. Jika masih ada yang ingin ditanyakan, balas saja di percakapan ini."),
]


def load_faq() -> int:
    from sqlalchemy import select

    from ..extensions import db
    from ..reference.models import CannedReply, FaqEntry

    if db.session.scalar(select(FaqEntry.id).limit(1)) is not None:
        return 0
    for pos, (_key, category, question, answer, keywords) in enumerate(FAQS):
        db.session.add(FaqEntry(category=category, question=question, answer=answer, keywords=keywords,
                                published=True, position=pos))
    for title, body in CANNED:
        db.session.add(CannedReply(title=title, body=body))
    db.session.flush()
    return len(FAQS)
