! closure_loop.f90: a coarse Burgers solver of its own, in Fortran 2008 on FFTW3 (fftw3.f03),
! that adds a learned closure to its right-hand side through PhysML's Fortran module `physml`
! (the C API underneath), on its own arrays.
!
!     burgers_closure_fortran MODEL SETUP OUTPUT [-name value ...]
!
! The same run file, output file, equation and discretization as the C program
! (examples/burgers_closure/c/closure_loop.c; simulators::CoarseBurgers): Fourier modes
! m = 0..n/2, 2/3 rule on the nonlinear term and the closure, forcing on its modes 1..K, the
! viscous term exact, Lawson RK4 with the fixed step dt, the model called at each of the four
! stages on the stage state. The stage state v(n, 1, 1) is the model's [1, 1, n] tensor
! (physml_array_of reverses the Fortran shape; no copy) and the closure is written into c(n, 1, 1).
! Options after the three paths are set in PhysML's options database after it started
! (physml_options_set), e.g. -closure_input_shape 1,1,64. The model is loaded with the prefix
! closure_ and -closure_dtype float64. Exit status 0 on success, 1 on any error (the message,
! prefixed "burgers_closure_fortran: error:", on stderr), 2 on a wrong command line.
program burgers_closure_fortran
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit, output_unit
  use physml
  implicit none
  include 'fftw3.f03'

  interface
    integer(c_int) function c_rename(from, to) bind(C, name="rename")
      import :: c_int, c_char
      character(kind=c_char), dimension(*), intent(in) :: from, to
    end function
  end interface

  character(len=*), parameter :: program_name = "burgers_closure_fortran"
  real(c_double), parameter :: pi = 3.14159265358979323846_c_double

  ! the run
  integer :: n, nh, steps, modes
  real(c_double) :: viscosity, dt, t0, amplitude
  real(c_double), allocatable :: phase(:), frequency(:)
  ! the solver: state u, stage state v and closure c (the model's [1, 1, n]), v^2/2
  real(c_double), allocatable, target :: u(:), v(:, :, :), c(:, :, :), half_sq(:)
  real(c_double), allocatable :: k(:), mask(:), e1(:), e2(:)
  complex(c_double_complex), allocatable, target :: uh(:), ra(:), rb(:), rc(:), rd(:), stage(:), scratch(:), chat(:)
  type(c_ptr) :: r2c = c_null_ptr, c2r = c_null_ptr, model = c_null_ptr
  type(physml_array) :: closure_in(1), closure_out(1)
  integer :: closure_calls = 0

  character(len=4096) :: model_path, setup_path, output_path, name, value
  integer :: nargs, i, j, m, status
  real(c_double) :: t

  nargs = command_argument_count()
  if (nargs < 3) then
    write (error_unit, '(a)') "usage: " // program_name // " MODEL SETUP OUTPUT [-name value ...]"
    stop 2
  end if
  call get_command_argument(1, model_path)
  call get_command_argument(2, setup_path)
  call get_command_argument(3, output_path)

  status = physml_initialize()
  if (status /= PHYSML_OK) call fail_physml("physml_initialize", status)
  i = 4
  do while (i <= nargs)
    call get_command_argument(i, name)
    value = ""
    if (i < nargs) then
      call get_command_argument(i + 1, value)
      if (is_option_name(value)) then
        value = ""
      else
        i = i + 1
      end if
    end if
    status = physml_options_set(trim(name), trim(value))
    if (status /= PHYSML_OK) call fail_physml("physml_options_set " // trim(name), status)
    i = i + 1
  end do

  call read_setup(trim(setup_path))
  status = physml_options_set("-closure_dtype", "float64")   ! the solver computes in float64
  if (status /= PHYSML_OK) call fail_physml("physml_options_set", status)
  status = physml_model_load(trim(model_path), model, prefix="closure_")
  if (status /= PHYSML_OK) call fail_physml("physml_model_load", status)
  call solver_create()

  t = t0
  do i = 0, steps - 1
    call step(t0 + real(i, c_double) * dt)    ! the step's time as CoarseBurgers forms it
    t = t0 + real(i + 1, c_double) * dt
    do j = 1, n
      if (.not. (abs(u(j)) <= huge(u(j)))) then
        write (error_unit, '(a, i0, a, g0, a)') program_name // ": error: the state became non-finite at step ", i + 1, &
          " (t = ", t, "): the closure or the time step made the run unstable"
        stop 1
      end if
    end do
  end do
  call write_state(trim(output_path))
  write (output_unit, '(a, i0, a, g0.6, a, i0, a, g0.6, a, g0.6, a, i0, a)') program_name // ": ", steps, " steps of ", dt, &
    " on ", n, " points from t = ", t0, " to ", t, ", ", closure_calls, &
    " closure calls through the Fortran module: wrote " // trim(output_path)

  call fftw_destroy_plan(r2c)
  call fftw_destroy_plan(c2r)
  status = physml_model_destroy(model)
  status = physml_finalize()

contains

  subroutine fail(message)
    character(len=*), intent(in) :: message
    write (error_unit, '(a)') program_name // ": error: " // message
    stop 1
  end subroutine

  subroutine fail_physml(what, code)
    character(len=*), intent(in) :: what
    integer(c_int), intent(in) :: code
    call fail(what // ": " // physml_status_name(code) // ": " // physml_last_error())
  end subroutine

  !> "-name" (an option), not a negative number such as "-1".
  logical function is_option_name(s)
    character(len=*), intent(in) :: s
    is_option_name = len_trim(s) >= 2 .and. s(1:1) == "-" .and. verify(s(2:2), "0123456789.") /= 0
  end function

  ! ---- the run file -------------------------------------------------------------------------

  !> The next line that is neither blank nor a comment ('#'); ok = .false. at the end of the file.
  subroutine next_line(unit, line, line_no, ok)
    integer, intent(in) :: unit
    character(len=*), intent(out) :: line
    integer, intent(inout) :: line_no
    logical, intent(out) :: ok
    integer :: ios
    ok = .false.
    do
      read (unit, '(a)', iostat=ios) line
      if (ios /= 0) return
      line_no = line_no + 1
      if (len_trim(line) > 0 .and. adjustl(line) /= "" .and. index(adjustl(line), "#") /= 1) exit
    end do
    ok = .true.
  end subroutine

  !> The next line must be "key v(1) ... v(size(v))", exactly.
  subroutine read_key(unit, path, line_no, key, values)
    integer, intent(in) :: unit
    character(len=*), intent(in) :: path, key
    integer, intent(inout) :: line_no
    real(c_double), intent(out) :: values(:)
    character(len=4096) :: line
    character(len=64) :: word
    character(len=16) :: where, count
    real(c_double) :: extra
    logical :: ok
    integer :: ios
    call next_line(unit, line, line_no, ok)
    if (.not. ok) call fail(path // ": ended before '" // key // "'")
    write (where, '(i0)') line_no
    write (count, '(i0)') size(values)
    read (line, *, iostat=ios) word
    if (ios /= 0 .or. word /= key) call fail(path // ":" // trim(where) // ": expected '" // key // "', got '" // &
                                             trim(line) // "'")
    read (line, *, iostat=ios) word, values
    if (ios /= 0) call fail(path // ":" // trim(where) // ": '" // key // "' needs " // trim(count) // " number(s)")
    read (line, *, iostat=ios) word, values, extra
    if (ios == 0) call fail(path // ":" // trim(where) // ": '" // key // "' has more than " // trim(count) // " value(s)")
  end subroutine

  integer function read_integer(unit, path, line_no, key, lo) result(out)
    integer, intent(in) :: unit, lo
    character(len=*), intent(in) :: path, key
    integer, intent(inout) :: line_no
    real(c_double) :: x(1)
    character(len=32) :: text, lo_text
    call read_key(unit, path, line_no, key, x)
    if (x(1) /= aint(x(1)) .or. x(1) < lo .or. x(1) > 1e9_c_double) then
      write (text, '(g0)') x(1)
      write (lo_text, '(i0)') lo
      call fail(path // ": " // key // " = " // trim(text) // " must be an integer >= " // trim(lo_text))
    end if
    out = int(x(1))
  end function

  subroutine read_setup(path)
    character(len=*), intent(in) :: path
    integer :: unit, ios, line_no, count
    real(c_double) :: x(1)
    character(len=4096) :: line
    character(len=16) :: a, b
    logical :: ok
    real(c_double), allocatable :: values(:)
    open (newunit=unit, file=path, status="old", action="read", iostat=ios)
    if (ios /= 0) call fail("run file " // path // " cannot be opened")
    line_no = 0
    n = read_integer(unit, path, line_no, "n", 8)
    call read_key(unit, path, line_no, "viscosity", x)
    viscosity = x(1)
    call read_key(unit, path, line_no, "dt", x)
    dt = x(1)
    steps = read_integer(unit, path, line_no, "steps", 1)
    call read_key(unit, path, line_no, "t0", x)
    t0 = x(1)
    call read_key(unit, path, line_no, "forcing_amplitude", x)
    amplitude = x(1)
    modes = read_integer(unit, path, line_no, "forcing_modes", 0)
    if (3 * modes >= n) call fail(path // ": too many forced modes for the grid (need 3 K < n)")
    if (.not. (viscosity > 0 .and. dt > 0)) call fail(path // ": viscosity and dt must be positive")
    allocate (phase(modes), frequency(modes), u(n))
    call read_key(unit, path, line_no, "forcing_phase", phase)
    call read_key(unit, path, line_no, "forcing_frequency", frequency)
    allocate (values(0))
    call read_key(unit, path, line_no, "u0", values)
    count = 0
    do
      call next_line(unit, line, line_no, ok)
      if (.not. ok) exit
      read (line, *, iostat=ios) x(1)
      if (ios /= 0) then
        write (a, '(i0)') line_no
        call fail(path // ":" // trim(a) // ": u0 value is not a number: '" // trim(line) // "'")
      end if
      count = count + 1
      if (count <= n) u(count) = x(1)
    end do
    close (unit)
    if (count /= n) then
      write (a, '(i0)') count
      write (b, '(i0)') n
      call fail(path // ": u0 has " // trim(a) // " values for a grid of n = " // trim(b) // " points (wrong grid size)")
    end if
  end subroutine

  ! ---- the solver ---------------------------------------------------------------------------

  subroutine solver_create()
    nh = n / 2 + 1
    allocate (v(n, 1, 1), c(n, 1, 1), half_sq(n), k(nh), mask(nh), e1(nh), e2(nh))
    allocate (uh(nh), ra(nh), rb(nh), rc(nh), rd(nh), stage(nh), scratch(nh), chat(nh))
    ! FFTW_ESTIMATE leaves the arrays alone while planning; FFTW_UNALIGNED lets one plan run on
    ! every array (fftw_execute_dft_*).
    r2c = fftw_plan_dft_r2c_1d(int(n, c_int), u, uh, ior(FFTW_ESTIMATE, FFTW_UNALIGNED))
    c2r = fftw_plan_dft_c2r_1d(int(n, c_int), scratch, u, ior(FFTW_ESTIMATE, FFTW_UNALIGNED))
    if (.not. c_associated(r2c) .or. .not. c_associated(c2r)) call fail("FFTW could not plan the transforms")
    do m = 0, nh - 1
      k(m + 1) = 2 * pi * m
      mask(m + 1) = merge(1.0_c_double, 0.0_c_double, 3 * m < n)
      e1(m + 1) = exp(-viscosity * dt * k(m + 1) * k(m + 1))
      e2(m + 1) = exp(-0.5_c_double * viscosity * dt * k(m + 1) * k(m + 1))
    end do
    ! the model's views of v and c: Fortran (n, 1, 1) is the model's [1, 1, n], dense
    closure_in(1) = physml_array_of(v)
    closure_out(1) = physml_array_of(c)
  end subroutine

  !> N(vh, t) into r: -i k mask FFT(v^2/2) + forcing + mask FFT(c(v)), v = IFFT(vh).
  subroutine rhs(vh, time, r)
    complex(c_double_complex), intent(in), contiguous :: vh(:)
    real(c_double), intent(in) :: time
    complex(c_double_complex), intent(out), contiguous :: r(:)
    real(c_double) :: a, theta
    integer :: q
    integer(c_int) :: code
    scratch = vh                                    ! c2r overwrites its input
    call fftw_execute_dft_c2r(c2r, scratch, v)
    v = v / n
    half_sq = 0.5_c_double * v(:, 1, 1) * v(:, 1, 1)
    call fftw_execute_dft_r2c(r2c, half_sq, r)
    r = cmplx(0, -1, c_double_complex) * (k * mask) * r
    a = 0.5_c_double * n * amplitude
    do q = 1, modes                                 ! sin(2 pi q x + theta): (n/2) e^{i theta} / i at mode q
      theta = phase(q) + frequency(q) * time
      r(q + 1) = r(q + 1) + cmplx(a * sin(theta), -a * cos(theta), c_double_complex)
    end do
    code = physml_forward(model, closure_in, closure_out)   ! c = closure(v), on v and c themselves
    if (code /= PHYSML_OK) call fail_physml("physml_forward (the closure)", code)
    closure_calls = closure_calls + 1
    call fftw_execute_dft_r2c(r2c, c, chat)
    r = r + mask * chat
  end subroutine

  !> One Lawson RK4 step of u from time `time`.
  subroutine step(time)
    real(c_double), intent(in) :: time
    real(c_double) :: h
    h = dt
    call fftw_execute_dft_r2c(r2c, u, uh)
    uh = uh * mask
    call rhs(uh, time, ra)
    stage = e2 * (uh + 0.5_c_double * h * ra)
    call rhs(stage, time + 0.5_c_double * h, rb)
    stage = e2 * uh + 0.5_c_double * h * rb
    call rhs(stage, time + 0.5_c_double * h, rc)
    stage = e1 * uh + h * e2 * rc
    call rhs(stage, time + h, rd)
    stage = e1 * uh + (h / 6) * (e1 * ra + 2 * e2 * (rb + rc) + rd)
    call fftw_execute_dft_c2r(c2r, stage, u)
    u = u / n
  end subroutine

  !> The state to `path`, one value a line, through a temporary file and a rename.
  subroutine write_state(path)
    character(len=*), intent(in) :: path
    integer :: unit, ios, jj
    open (newunit=unit, file=path // ".tmp", status="replace", action="write", iostat=ios)
    if (ios /= 0) call fail("cannot write " // path // ".tmp")
    write (unit, '(a, g0, a, i0, a, i0, a)') "# " // program_name // ": final state at t = ", t, " after ", steps, &
      " steps, n = ", n, ", closure " // trim(model_path)
    do jj = 1, n
      write (unit, '(es25.16e3)', iostat=ios) u(jj)
      if (ios /= 0) call fail("cannot write " // path // ".tmp")
    end do
    close (unit)
    if (c_rename(path // ".tmp" // c_null_char, path // c_null_char) /= 0) &
      call fail("cannot rename " // path // ".tmp to " // path)
  end subroutine

end program
